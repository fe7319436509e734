// Package datadriven runs scenario files: scripts of commands, each followed by the output it
// must produce, in the style of cockroachdb/pebble's datadriven tests. A file looks like:
//
//	# A comment.
//	command arg1 key=value key=(v1,v2)
//	optional input lines
//	----
//	expected output
//	(ends at the first blank line)
//
// An expected output that contains blank lines is written between two separator lines
// ("----" twice after the command, and "----" twice after the output).
//
// Run the tests with -rewrite to replace every expected output by what the commands produce now
// (then review the diff).
package datadriven

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "datadriven: rewrite the expected outputs of scenario files with the actual ones")

// Arg is one command argument: "key", "key=value" or "key=(v1,v2,...)".
type Arg struct {
	Key  string
	Vals []string
}

// TestData is one command of a scenario file.
type TestData struct {
	// Pos is "file:line" of the command.
	Pos      string
	Cmd      string
	Args     []Arg
	Input    string
	Expected string
}

// Has reports whether the command has an argument named key.
func (d *TestData) Has(key string) bool {
	_, ok := d.Arg(key)
	return ok
}

// Arg returns the argument named key.
func (d *TestData) Arg(key string) (Arg, bool) {
	for _, a := range d.Args {
		if a.Key == key {
			return a, true
		}
	}
	return Arg{}, false
}

// Val returns the first value of argument key, or def if it is absent or has no value.
func (d *TestData) Val(key, def string) string {
	if a, ok := d.Arg(key); ok && len(a.Vals) > 0 {
		return a.Vals[0]
	}
	return def
}

// Fatalf fails the test, naming the command's position.
func (d *TestData) Fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s: %s: %s", d.Pos, d.Cmd, fmt.Sprintf(format, args...))
}

// Walk runs f as a subtest for every file in dir (sorted by name).
func Walk(t *testing.T, dir string, f func(t *testing.T, path string)) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("datadriven: no scenario files in %s", dir)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		t.Run(strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())), func(t *testing.T) { f(t, path) })
	}
}

// RunTest runs every command of the file at path through f and compares f's result with the
// expected output (trailing whitespace of each line ignored). With -rewrite it writes the file
// back with the actual outputs instead.
func RunTest(t *testing.T, path string, f func(t *testing.T, d *TestData) string) {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := parse(path, string(content))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, c := range cmds {
		out.WriteString(c.prefix)
		if c.data == nil {
			continue
		}
		d := c.data
		actual := f(t, d)
		if t.Failed() && !*rewrite {
			return
		}
		actual = normalize(actual)
		if *rewrite {
			out.WriteString(c.header)
			writeOutput(&out, actual)
			continue
		}
		if actual != normalize(d.Expected) {
			t.Fatalf("%s: %s\nexpected:\n%s\nactual:\n%s", d.Pos, strings.TrimSpace(c.header[:strings.Index(c.header, "----")]), d.Expected, actual)
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// normalize trims trailing spaces of every line and trailing newlines, and ends with one newline
// unless empty.
func normalize(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	s = strings.TrimRight(strings.Join(lines, "\n"), "\n")
	if s == "" {
		return ""
	}
	return s + "\n"
}

func writeOutput(b *strings.Builder, actual string) {
	if strings.Contains(actual, "\n\n") {
		b.WriteString("----\n")
		b.WriteString(actual)
		b.WriteString("----\n----\n")
		return
	}
	b.WriteString(actual)
}

// chunk is a run of the file: prefix (comments and blank lines) kept verbatim, then a command
// (its header: command line, input and separator) with its expected output.
type chunk struct {
	prefix string
	header string
	data   *TestData
}

func parse(path, content string) ([]chunk, error) {
	lines := strings.SplitAfter(content, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out []chunk
	var prefix strings.Builder
	i := 0
	trim := func(l string) string { return strings.TrimRight(l, " \t\r\n") }
	for i < len(lines) {
		l := trim(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			prefix.WriteString(lines[i])
			i++
			continue
		}
		d := &TestData{Pos: fmt.Sprintf("%s:%d", path, i+1)}
		var err error
		if d.Cmd, d.Args, err = parseCommand(l); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Pos, err)
		}
		var header strings.Builder
		header.WriteString(lines[i])
		i++
		var input []string
		for i < len(lines) && trim(lines[i]) != "----" {
			input = append(input, trim(lines[i]))
			header.WriteString(lines[i])
			i++
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s: command without a ---- separator", d.Pos)
		}
		header.WriteString(lines[i])
		i++
		d.Input = strings.Join(input, "\n")
		var expected []string
		if i < len(lines) && trim(lines[i]) == "----" {
			// Blank-line-tolerant form: ends at "----" "----".
			i++
			for {
				if i+1 >= len(lines) {
					return nil, fmt.Errorf("%s: expected output not closed by ---- ----", d.Pos)
				}
				if trim(lines[i]) == "----" && trim(lines[i+1]) == "----" {
					i += 2
					break
				}
				expected = append(expected, trim(lines[i]))
				i++
			}
		} else {
			for i < len(lines) && trim(lines[i]) != "" {
				expected = append(expected, trim(lines[i]))
				i++
			}
		}
		if len(expected) > 0 {
			d.Expected = strings.Join(expected, "\n") + "\n"
		}
		out = append(out, chunk{prefix: prefix.String(), header: header.String(), data: d})
		prefix.Reset()
		if i < len(lines) { // the blank line that ends the output belongs to the next prefix
			continue
		}
	}
	if prefix.Len() > 0 {
		out = append(out, chunk{prefix: prefix.String()})
	}
	return out, nil
}

// parseCommand splits "cmd a b=c d=(e,f)".
func parseCommand(line string) (string, []Arg, error) {
	var fields []string
	depth, start := 0, -1
	for i, r := range line {
		switch {
		case r == '(':
			depth++
		case r == ')':
			depth--
		case (r == ' ' || r == '\t') && depth == 0:
			if start >= 0 {
				fields = append(fields, line[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 {
		return "", nil, fmt.Errorf("unbalanced parentheses in %q", line)
	}
	if start >= 0 {
		fields = append(fields, line[start:])
	}
	args := make([]Arg, 0, len(fields)-1)
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		a := Arg{Key: k}
		if ok {
			if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
				v = v[1 : len(v)-1]
				a.Vals = []string{}
				if v != "" {
					a.Vals = strings.Split(v, ",")
				}
			} else {
				a.Vals = []string{v}
			}
		}
		args = append(args, a)
	}
	return fields[0], slices.Clip(args), nil
}
