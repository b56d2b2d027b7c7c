"""An OTLP/HTTP logs receiver for tests: every POST body is decoded with the official
OpenTelemetry protobuf definitions (the opentelemetry-proto package); each log record is
written as one JSON line to the output file. A body that does not decode gets a 400.

usage: otlp_receiver.py PORT OUT_FILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

PORT, OUT = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            request = ExportLogsServiceRequest.FromString(body)
        except Exception as e:  # noqa: BLE001 - any decode failure is the test's finding
            self.send_response(400)
            self.end_headers()
            self.wfile.write(str(e).encode())
            return
        with open(OUT, "a") as out:
            for resource in request.resource_logs:
                service = {a.key: a.value.string_value for a in resource.resource.attributes}
                for scope in resource.scope_logs:
                    for record in scope.log_records:
                        line = MessageToDict(record, preserving_proto_field_name=True)
                        line["trace_id_hex"] = record.trace_id.hex()
                        line["span_id_hex"] = record.span_id.hex()
                        line["service"] = service.get("service.name", "")
                        line["scope"] = scope.scope.name
                        out.write(json.dumps(line) + "\n")
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
