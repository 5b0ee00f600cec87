"""A local S3 for the object-storage tests: moto's server on 127.0.0.1, the AWS variables pointing at it."""
import contextlib
import socket

import pytest


@contextlib.contextmanager
def local_s3(*buckets: str):
    """Start the server, set the AWS variables for as long as it runs, create `buckets`; yield (env, client)."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            mp.delenv("AWS_ENDPOINT_URL_S3", raising=False)
            mp.delenv("AWS_SESSION_TOKEN", raising=False)
            client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            for bucket in buckets:
                client.create_bucket(Bucket=bucket)
            yield env, client
    finally:
        server.stop()
