package datadriven

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func echo(t *testing.T, d *TestData) string {
	var b strings.Builder
	if d.Cmd == "echo" && d.Has("empty-output") {
		return ""
	}
	fmt.Fprintf(&b, "cmd=%s\n", d.Cmd)
	for _, a := range d.Args {
		if a.Vals == nil {
			fmt.Fprintf(&b, "arg %s\n", a.Key)
			continue
		}
		fmt.Fprintf(&b, "arg %s = %s\n", a.Key, strings.Join(a.Vals, " "))
	}
	if d.Has("blank") {
		b.WriteString("\nafter the blank\n")
	}
	for _, l := range strings.Split(d.Input, "\n") {
		if l != "" {
			fmt.Fprintf(&b, "input %s\n", l)
		}
	}
	return b.String()
}

func TestEcho(t *testing.T) {
	Walk(t, "testdata", func(t *testing.T, path string) { RunTest(t, path, echo) })
}

// TestRewriteRoundTrip: rewriting a file whose outputs are right leaves it byte for byte as it
// was, and rewriting a wrong output fixes only that output.
func TestRewriteRoundTrip(t *testing.T) {
	orig, err := os.ReadFile("testdata/echo")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "echo")
	broken := strings.Replace(string(orig), "arg b = c", "arg b = WRONG", 1)
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	*rewrite = true
	defer func() { *rewrite = false }()
	RunTest(t, path, echo)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(orig) {
		t.Fatalf("rewrite produced:\n%s\nwant:\n%s", got, orig)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"cmd\nno separator\n", "cmd a=(b\n----\n", "cmd\n----\n----\nnot closed\n"} {
		if _, err := parse("x", in); err == nil {
			t.Errorf("parse(%q): no error", in)
		}
	}
}
