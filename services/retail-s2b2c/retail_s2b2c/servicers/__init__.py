"""gRPC servicers, one per retail service in the protos."""
