"""Generated gRPC stubs of the cairn.v1 API."""
