package conformance

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// checkEncryption fails unless DescribeStream and DescribeStreamSummary both report typ and key.
func checkEncryption(t *testing.T, tg *target, name string, typ types.EncryptionType, key string) {
	t.Helper()
	ctx := caseContext(t)
	d, err := tg.kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStream")
	s, err := tg.kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStreamSummary")
	dd, ss := d.StreamDescription, s.StreamDescriptionSummary
	if dd.EncryptionType != typ || aws.ToString(dd.KeyId) != key {
		t.Errorf("DescribeStream: EncryptionType %q KeyId %q, want %q %q", dd.EncryptionType, aws.ToString(dd.KeyId), typ, key)
	}
	if ss.EncryptionType != typ || aws.ToString(ss.KeyId) != key {
		t.Errorf("DescribeStreamSummary: EncryptionType %q KeyId %q, want %q %q", ss.EncryptionType, aws.ToString(ss.KeyId), typ, key)
	}
}

// caseStreamEncryption: StartStreamEncryption with each documented KeyId form (and the
// AWS-managed alias/aws/kinesis) is reflected in DescribeStream(Summary) and PutRecord;
// StopStreamEncryption turns it off; a malformed key id and EncryptionType NONE are refused.
func caseStreamEncryption(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("enc")
	createStream(t, ctx, kc, name, 1)
	checkEncryption(t, tg, name, types.EncryptionTypeNone, "")

	start := func(key string) error {
		_, err := kc.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String(name),
			EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(key)})
		return err
	}
	err := start("alias/aws/kinesis")
	if tg.deviates(t, "stream-encryption") {
		wantCode(t, err, "UnknownOperationException", "StartStreamEncryption")
		_, err = kc.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: aws.String(name),
			EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/aws/kinesis")})
		wantCode(t, err, "UnknownOperationException", "StopStreamEncryption")
		checkEncryption(t, tg, name, types.EncryptionTypeNone, "")
		return
	}
	must(t, err, "StartStreamEncryption alias/aws/kinesis")
	waitStreamActive(t, ctx, kc, name)
	checkEncryption(t, tg, name, types.EncryptionTypeKms, "alias/aws/kinesis")
	put, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte("x")})
	must(t, err, "PutRecord")
	if put.EncryptionType != types.EncryptionTypeKms {
		t.Errorf("PutRecord on an encrypted stream: EncryptionType %q, want KMS", put.EncryptionType)
	}
	// The forms the API reference documents for KeyId.
	for _, key := range []string{
		"arn:aws:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012",
		"arn:aws:kms:us-east-1:123456789012:alias/MyAliasName",
		"12345678-1234-1234-1234-123456789012",
		"alias/MyAliasName",
	} {
		must(t, start(key), "StartStreamEncryption "+key)
		waitStreamActive(t, ctx, kc, name)
		checkEncryption(t, tg, name, types.EncryptionTypeKms, key)
	}
	err = start("not a key")
	if tg.deviates(t, "kms-key-format") {
		wantCode(t, err, "InvalidArgumentException", "StartStreamEncryption with a malformed key id")
	} else {
		wantCode(t, err, "KMSNotFoundException", "StartStreamEncryption with a malformed key id")
	}
	_, err = kc.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: aws.String(name),
		EncryptionType: types.EncryptionTypeNone, KeyId: aws.String("alias/aws/kinesis")})
	wantCode(t, err, "InvalidArgumentException", "StartStreamEncryption with EncryptionType NONE")
	checkEncryption(t, tg, name, types.EncryptionTypeKms, "alias/MyAliasName")

	_, err = kc.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: aws.String(name),
		EncryptionType: types.EncryptionTypeKms, KeyId: aws.String("alias/MyAliasName")})
	must(t, err, "StopStreamEncryption")
	waitStreamActive(t, ctx, kc, name)
	checkEncryption(t, tg, name, types.EncryptionTypeNone, "")
}
