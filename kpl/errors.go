package kpl

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

var (
	// ErrClosed is returned by Put after Close began, and wraps the error of
	// records Close abandoned when its context ended.
	ErrClosed = errors.New("kpl: producer closed")
	// ErrInvalidRecord is wrapped by the errors Put and PutSync return for a
	// record Kinesis would reject: empty, over-long (more than 256
	// characters) or non-UTF-8 partition key, invalid explicit hash key, or
	// data plus key larger than MaxRecordSize.
	ErrInvalidRecord = errors.New("kpl: invalid record")
	// ErrExpired is wrapped by the error of a record not written within
	// Config.RecordTTL; the error also wraps the last attempt's error.
	ErrExpired = errors.New("kpl: record expired")
	// ErrThrottled is wrapped by a *PutError whose code is
	// ProvisionedThroughputExceededException.
	ErrThrottled = errors.New("kpl: throttled")
)

// PutError is a failure reported by Kinesis, either for one entry of a
// PutRecords response (ErrorCode and ErrorMessage) or for the whole call.
type PutError struct {
	// Code is the AWS error code, e.g. "ProvisionedThroughputExceededException",
	// "InternalFailure", "ResourceNotFoundException".
	Code string
	// Message is the AWS error message.
	Message string
	// Err is the SDK error of a failed call; nil for an entry error.
	Err error
}

func (e *PutError) Error() string {
	if e.Err != nil {
		return "kpl: put records: " + e.Err.Error()
	}
	return fmt.Sprintf("kpl: put records: %s: %s", e.Code, e.Message)
}

// Unwrap returns the SDK error of a failed call.
func (e *PutError) Unwrap() error { return e.Err }

// Is reports ErrThrottled for throttling codes.
func (e *PutError) Is(target error) bool {
	return target == ErrThrottled && isThrottleCode(e.Code)
}

// codeInvalidParams marks a request the SDK refused to send.
const codeInvalidParams = "InvalidParameters"

func isThrottleCode(code string) bool {
	switch code {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException", "KMSThrottlingException":
		return true
	}
	return false
}

// retryable reports whether a failure with this AWS code may succeed later.
// Unknown codes (network errors, timeouts, 5xx) are retried.
func retryable(code string) bool {
	switch code {
	case "ResourceNotFoundException", "AccessDeniedException", "ValidationException",
		"InvalidArgumentException", "KMSAccessDeniedException", "KMSDisabledException",
		"KMSInvalidStateException", "KMSNotFoundException", "KMSOptInRequired",
		"UnrecognizedClientException", "MissingAuthenticationTokenException",
		"SerializationException", "UnknownOperationException", codeInvalidParams:
		return false
	}
	return true
}

// callError turns an SDK error into a *PutError with its AWS code ("" when
// the error carries none, e.g. a network error or timeout).
func callError(err error) *PutError {
	pe := &PutError{Err: err}
	var ae smithy.APIError
	var ip smithy.InvalidParamsError
	switch {
	case errors.As(err, &ae):
		pe.Code, pe.Message = ae.ErrorCode(), ae.ErrorMessage()
	case errors.As(err, &ip):
		pe.Code, pe.Message = codeInvalidParams, ip.Error()
	}
	return pe
}
