package kinesislocal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// NewHTTPServer returns an *http.Server that serves h with the protocols AWS clients use by
// default:
//
//   - Serve (plain TCP): HTTP/1.1 and HTTP/2 with prior knowledge (h2c), on the same port. The
//     Node AWS SDK v3 Kinesis client speaks HTTP/2 to an http:// endpoint without asking first.
//   - ServeTLS: HTTP/1.1 and HTTP/2, chosen by ALPN, as AWS endpoints do.
//
// SubscribeToShard's event stream works over each of them. The server has no read or write
// timeout (event streams last minutes) and closes idle connections after 5 minutes; the caller
// may set BaseContext and other fields before serving.
func NewHTTPServer(h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:     h,
		Protocols:   &p,
		IdleTimeout: 5 * time.Minute,
		HTTP2: &http.HTTP2Config{
			// A PutRecords may carry 5 MiB of records (about 7 MB of JSON). Go's default 1 MiB
			// windows would stall such a request for a round trip per MiB.
			MaxReceiveBufferPerStream:     8 << 20,
			MaxReceiveBufferPerConnection: 32 << 20,
		},
	}
}

// TLSFiles names the PEM files of a server certificate: CAFile is the self-signed authority
// clients trust (point AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS or SSL_CERT_FILE at it); CertFile and
// KeyFile are the server's certificate (signed by the authority) and private key.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Generated TLS file names under the directory given to EnsureTLSFiles.
const (
	tlsCAName   = "ca.pem"
	tlsCertName = "cert.pem"
	tlsKeyName  = "key.pem"
)

// EnsureTLSFiles returns the certificate files in dir, generating them first if any is missing:
// a self-signed ECDSA P-256 authority (ca.pem) and a server certificate it signs (cert.pem,
// key.pem) for localhost, 127.0.0.1 and ::1, valid for ten years. Existing files are loaded and
// checked, never overwritten; an unusable pair is an error that names the file. The authority's
// private key is not kept.
func EnsureTLSFiles(dir string) (TLSFiles, error) {
	f := TLSFiles{
		CAFile:   filepath.Join(dir, tlsCAName),
		CertFile: filepath.Join(dir, tlsCertName),
		KeyFile:  filepath.Join(dir, tlsKeyName),
	}
	n := 0
	for _, p := range []string{f.CAFile, f.CertFile, f.KeyFile} {
		if _, err := os.Stat(p); err == nil {
			n++
		} else if !errors.Is(err, os.ErrNotExist) {
			return TLSFiles{}, fmt.Errorf("kinesislocal: tls: %w", err)
		}
	}
	switch n {
	case 3:
		if _, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile); err != nil {
			return TLSFiles{}, fmt.Errorf("kinesislocal: tls: %s and %s: %w", f.CertFile, f.KeyFile, err)
		}
		return f, nil
	case 0:
	default:
		return TLSFiles{}, fmt.Errorf("kinesislocal: tls: %s has only some of %s, %s and %s; remove them to generate new ones",
			dir, tlsCAName, tlsCertName, tlsKeyName)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return TLSFiles{}, fmt.Errorf("kinesislocal: tls: %w", err)
	}
	ca, cert, key, err := generateCert(time.Now())
	if err != nil {
		return TLSFiles{}, fmt.Errorf("kinesislocal: tls: generate certificate: %w", err)
	}
	// The key first and the CA last: a crash in between leaves an incomplete set, which the next
	// start reports instead of using.
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{f.KeyFile, key, 0o600}, {f.CertFile, cert, 0o644}, {f.CAFile, ca, 0o644}} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			return TLSFiles{}, fmt.Errorf("kinesislocal: tls: %w", err)
		}
	}
	return f, nil
}

// generateCert returns PEM blocks: a self-signed CA certificate, a server certificate it signed,
// and the server's private key.
func generateCert(now time.Time) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		return n
	}
	notBefore, notAfter := now.Add(-time.Hour), now.AddDate(10, 0, 0)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "shoal local CA", Organization: []string{"shoal"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"shoal"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	// The chain (server certificate, then the authority) so clients that trust only the
	// authority can verify it.
	certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caPEM...)
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return caPEM, certPEM, keyPEM, nil
}

// readBody reads a request body of at most MaxRequestBytes into a buffer sized from
// Content-Length, so it takes one or a few reads instead of io.ReadAll's doubling: over HTTP/2
// each read of a request body is also a hand-off to the connection's goroutine (flow-control
// credit), which costs a scheduling round on a busy machine.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	var b bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= MaxRequestBytes {
		b.Grow(int(n) + bytes.MinRead)
	}
	_, err := b.ReadFrom(rd)
	return b.Bytes(), err
}
