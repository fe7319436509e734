package ddb

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/expr"
)

// Wire __type values of the DynamoDB errors this engine returns.
const (
	typeValidation      = awsproto.DynamoDBCoralPrefix + "ValidationException"
	typeSerialization   = awsproto.DynamoDBSerialPrefix + "SerializationException"
	typeNotFound        = awsproto.DynamoDBPrefix + "ResourceNotFoundException"
	typeInUse           = awsproto.DynamoDBPrefix + "ResourceInUseException"
	typeUnknownOp       = awsproto.DynamoDBCoralPrefix + "UnknownOperationException"
	typeInternal        = awsproto.DynamoDBPrefix + "InternalServerError"
	typeIdempotentParam = awsproto.DynamoDBPrefix + "IdempotentParameterMismatchException"
)

const msgCondFailed = "The conditional request failed"

func validation(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(typeValidation, format, args...)
}

func invalidParam(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(typeValidation, "One or more parameter values were invalid: "+format, args...)
}

func notFound(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(typeNotFound, format, args...)
}

func inUse(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(typeInUse, format, args...)
}

func internal(err error) *awsproto.Error {
	return &awsproto.Error{Status: http.StatusInternalServerError, Type: typeInternal, Message: "Internal server error: " + err.Error()}
}

// condFailed is ConditionalCheckFailedException, with the old item when it was asked for.
func condFailed(old attr.Item, returnOld bool) *awsproto.Error {
	e := awsproto.Errorf(awsproto.ConditionalCheckFailed, msgCondFailed)
	if returnOld && old != nil {
		e.Extra = map[string]any{"Item": old}
	}
	return e
}

// exprErr converts expression and attribute errors to ValidationException and passes others.
func exprErr(err error) error {
	var ee *expr.Error
	if errors.As(err, &ee) {
		return validation("%s", ee.Msg)
	}
	var ae *attr.Error
	if errors.As(err, &ae) {
		return validation("%s", ae.Msg)
	}
	return err
}

// decode unmarshals a request body, mapping problems to DynamoDB's error types.
func decode(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var ae *attr.Error
	if errors.As(err, &ae) {
		return validation("%s", ae.Msg)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return awsproto.Errorf(typeSerialization, "Unexpected value type for field %s: %s", te.Field, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return awsproto.Errorf(typeSerialization, "Malformed JSON at offset %d: %v", se.Offset, se)
	}
	return awsproto.Errorf(typeSerialization, "%s", fmt.Sprint(err))
}
