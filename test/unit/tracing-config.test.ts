import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { otlpHeaderValues, TracingConfigError, tracingRequested } from '../../src/observability/tracing-config';

const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

describe('whether the OTEL_* variables turn tracing on', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['nothing set: off', {}, false],
    ['an OTLP endpoint: on', endpoint, true],
    ['a traces endpoint alone: on', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, true],
    ['OTEL_TRACES_EXPORTER=otlp without an endpoint: on (the default one)', { OTEL_TRACES_EXPORTER: 'otlp' }, true],
    ['OTEL_TRACES_EXPORTER=none wins over an endpoint', { ...endpoint, OTEL_TRACES_EXPORTER: 'none' }, false],
    ['OTEL_SDK_DISABLED=true wins over everything', { ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }, false],
    ['OTEL_SDK_DISABLED=false leaves it on', { ...endpoint, OTEL_SDK_DISABLED: 'false' }, true],
    ['http/json is the protocol it speaks', { ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, true],
    ['an unsupported protocol does not matter while off', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, false],
  ];
  for (const [name, env, on] of cases) {
    test(name, () => assert.equal(tracingRequested(env), on));
  }

  const refused: [string, Record<string, string>, RegExp][] = [
    ['another exporter', { OTEL_TRACES_EXPORTER: 'zipkin' }, /^OTEL_TRACES_EXPORTER=zipkin is not supported/],
    [
      'a protocol it cannot send',
      { ...endpoint, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' },
      /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http\/protobuf .* 4318/,
    ],
    [
      'a switch that is neither true nor false',
      { ...endpoint, OTEL_SDK_DISABLED: 'yes' },
      /^OTEL_SDK_DISABLED=yes must be true or false/,
    ],
  ];
  for (const [name, env, message] of refused) {
    test(`refuses ${name}, naming the variable`, () =>
      assert.throws(
        () => tracingRequested(env),
        (error) => error instanceof TracingConfigError && message.test(error.message),
      ));
  }
});

test('the collector headers give their values, raw and decoded, to the redaction', () => {
  const values = otlpHeaderValues({
    OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc%3D%3D, x-team = ops',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20tok123,broken',
  });
  assert.deepEqual(values.sort(), ['Bearer tok123', 'Bearer%20tok123', 'abc%3D%3D', 'abc==', 'ops'].sort());
});
