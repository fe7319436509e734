// Package awsproto holds what the Kinesis and DynamoDB engines of kinesislocal share about the AWS
// JSON protocols: the error type they return and how errors and results are written on the wire.
package awsproto

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Error is an AWS-style API error. Engines return it (as error) from Handle; the server writes it as
// {"__type": Type, "message": Message, ...Extra} with HTTP status Status.
type Error struct {
	Status  int    // HTTP status; 0 means 400
	Type    string // wire __type, e.g. "ResourceNotFoundException" or "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
	Message string
	// Extra holds additional top-level members of the error body, e.g. DynamoDB's "Item" for
	// ReturnValuesOnConditionCheckFailure or "CancellationReasons" for TransactionCanceledException.
	Extra map[string]any
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// Errorf builds a 400 Error of the given type.
func Errorf(typ, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// Kinesis error types (wire __type values).
const (
	ResourceNotFound       = "ResourceNotFoundException"
	ResourceInUse          = "ResourceInUseException"
	InvalidArgument        = "InvalidArgumentException"
	ExpiredIterator        = "ExpiredIteratorException"
	ExpiredNextToken       = "ExpiredNextTokenException"
	ProvisionedThroughput  = "ProvisionedThroughputExceededException"
	LimitExceeded          = "LimitExceededException"
	Validation             = "ValidationException"
	Serialization          = "SerializationException"
	UnknownOperation       = "UnknownOperationException"
	InternalFailure        = "InternalFailureException"
	ServiceUnavailable     = "ServiceUnavailable"
	MissingAuthentication  = "MissingAuthenticationTokenException"
	DynamoDBPrefix         = "com.amazonaws.dynamodb.v20120810#"
	DynamoDBCoralPrefix    = "com.amazon.coral.validate#"
	DynamoDBSerialPrefix   = "com.amazon.coral.service#"
	ConditionalCheckFailed = DynamoDBPrefix + "ConditionalCheckFailedException"
	TransactionCanceled    = DynamoDBPrefix + "TransactionCanceledException"
)

// WriteError writes err as an AWS JSON error response. Errors that are not *Error become
// InternalFailure (500).
func WriteError(w http.ResponseWriter, contentType string, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Status: http.StatusInternalServerError, Type: InternalFailure, Message: err.Error()}
	}
	body := make(map[string]any, 2+len(e.Extra))
	for k, v := range e.Extra {
		body[k] = v
	}
	body["__type"] = e.Type
	if e.Message != "" {
		body["message"] = e.Message
	}
	b, _ := json.Marshal(body)
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// WriteJSON writes an already-encoded 200 response.
func WriteJSON(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
