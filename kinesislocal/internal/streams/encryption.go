package streams

import (
	"context"
	"regexp"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Server-side encryption is recorded and reported (DescribeStream, DescribeStreamSummary,
// PutRecord(s)); records are not encrypted, and no KMS is consulted: a well-formed key id is
// accepted whether or not such a key exists.

const (
	encNone = "NONE"
	encKMS  = "KMS"
)

// evEncryption is the log event of Start/StopStreamEncryption: Mode KMS and Key the key id, or
// Mode empty for none.
const evEncryption = "encryption"

// kmsNotFound is the error type Kinesis returns when KMS does not know the key.
const kmsNotFound = "KMSNotFoundException"

// keyIDPattern accepts the KeyId forms the Kinesis API reference documents: a key id (a UUID, or
// "mrk-" and 32 hex digits for a multi-Region key), a key ARN, an alias ARN, and an alias name
// ("alias/..." including the AWS-managed "alias/aws/kinesis").
var keyIDPattern = regexp.MustCompile(`^(?:` +
	`(?:arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/)?(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-fA-F]{32})` +
	`|(?:arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:)?alias/[a-zA-Z0-9/_-]{1,250}` +
	`)$`)

type encryptionReq struct {
	streamRef
	EncryptionType *string `json:"EncryptionType"`
	KeyId          *string `json:"KeyId"`
}

// validEncryption checks EncryptionType and KeyId as Start/StopStreamEncryption take them: both
// required, the type KMS, the key id in a documented form. KMS answers a malformed key id with
// NotFoundException ("Invalid keyId ..."), which Kinesis passes on as KMSNotFoundException.
func validEncryption(req *encryptionReq) error {
	if req.EncryptionType == nil {
		return nullErr("encryptionType")
	}
	if req.KeyId == nil {
		return nullErr("keyId")
	}
	switch *req.EncryptionType {
	case encKMS:
	case encNone:
		return errf(awsproto.InvalidArgument, "EncryptionType NONE is not valid for this operation; the only valid value is KMS.")
	default:
		return errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'encryptionType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, KMS]", *req.EncryptionType)
	}
	if n := len(*req.KeyId); n < 1 || n > 2048 {
		return errf(awsproto.Validation, "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	if !keyIDPattern.MatchString(*req.KeyId) {
		return errf(kmsNotFound, "Invalid keyId %s", *req.KeyId)
	}
	return nil
}

func (e *Engine) startEncryption(_ context.Context, body []byte) ([]byte, error) {
	return e.changeEncryption(body, true)
}

func (e *Engine) stopEncryption(_ context.Context, body []byte) ([]byte, error) {
	return e.changeEncryption(body, false)
}

// changeEncryption starts or stops server-side encryption: the stream is UPDATING for the state
// delay, and reports the new EncryptionType and KeyId at once.
func (e *Engine) changeEncryption(body []byte, start bool) ([]byte, error) {
	return changeStream(e, body, streamChange[encryptionReq]{
		check: validEncryption,
		decide: func(_ *stream, _ int64, req *encryptionReq) (ctlEvent, error) {
			if start {
				return ctlEvent{T: evEncryption, Mode: encKMS, Key: *req.KeyId}, nil
			}
			return ctlEvent{T: evEncryption}, nil
		},
	})
}

// applyEncryption sets the stream's encryption from an evEncryption event (Mode "" or NONE:
// none). Callers hold s.mu for writing.
func (e *Engine) applyEncryption(s *stream, ev *ctlEvent) {
	s.encryption, s.keyID = ev.Mode, ev.Key
	if s.encryption != encKMS {
		s.encryption, s.keyID = "", ""
	}
	s.pendingStatus, s.pendingUntil = statusUpdating, ev.At+e.delayMs
}

// currentEncryptionType is encryptionType for callers that do not hold s.mu (PutRecord(s)).
func (s *stream) currentEncryptionType() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.encryptionType()
}

// encryptionType is the stream's EncryptionType on the wire. Callers hold s.mu.
func (s *stream) encryptionType() string {
	if s.encryption == "" {
		return encNone
	}
	return s.encryption
}
