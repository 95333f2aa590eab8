"""Calls a gRPC method knowing only its name, as grpcurl would: the services are listed and the
method's descriptors resolved by server reflection, with grpcio-reflection's client.

    reflection_client.py ADDRESS VERSION SERVICE/METHOD REQUEST_JSON

VERSION is the reflection protocol asked: `v1alpha` (the only one grpcio-reflection speaks) or
`v1` (the same client, its calls sent to grpc.reflection.v1: the messages are identical on the
wire). Prints one JSON object: the services listed, the method's message types, and the answer
(fields by their proto names) or the gRPC status.
"""

import collections
import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

V1ALPHA_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class ToReflectionV1(grpc.StreamStreamClientInterceptor):
    """Sends the client's reflection calls to the v1 service; counts them."""

    def __init__(self):
        self.calls = 0

    def intercept_stream_stream(self, continuation, details, request_iterator):
        if details.method == V1ALPHA_METHOD:
            self.calls += 1
            details = _CallDetails(
                V1_METHOD,
                details.timeout,
                details.metadata,
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        return continuation(details, request_iterator)


def main():
    address, version, full_method, request_json = sys.argv[1:5]
    service_name, method_name = full_method.split("/")
    # The server is on this machine: a proxy named in the environment must not be used.
    channel = grpc.insecure_channel(address, options=[("grpc.enable_http_proxy", 0)])
    to_v1 = None
    if version == "v1":
        to_v1 = ToReflectionV1()
        reflection_channel = grpc.intercept_channel(channel, to_v1)
    elif version == "v1alpha":
        reflection_channel = channel
    else:
        sys.exit(f"unknown reflection version {version!r}: v1 or v1alpha")

    database = ProtoReflectionDescriptorDatabase(reflection_channel)
    services = sorted(database.get_services())
    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName(service_name).methods_by_name[method_name]
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse(request_json, request_class())

    call = channel.unary_unary(
        f"/{service_name}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    out = {
        "services": services,
        "input_type": method.input_type.full_name,
        "output_type": method.output_type.full_name,
    }
    try:
        response = call(request, timeout=30)
        out["response"] = json_format.MessageToDict(
            response,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
        )
    except grpc.RpcError as error:
        out["status"] = {"code": error.code().name, "message": error.details()}
    if to_v1 is not None:
        out["v1_reflection_calls"] = to_v1.calls
    print(json.dumps(out))


if __name__ == "__main__":
    main()
