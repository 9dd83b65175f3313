"""Conformance of `aiops serve-model` with third-party Open Inference Protocol (v2 REST) clients:
tritonclient[http] (JSON, binary_data=False) and the kserve package's InferenceRESTClient; and
the KServe manifests in infra/k8s/base/kserve validated against KServe's CRD schemas.

The served model is crates/model-server/tests/data/model.iforest (fitted on 5 features, see
`golden_model_fixture_is_fit_42` in crates/model-server/tests/model_server.rs)."""

import asyncio
import os
import pathlib
import subprocess
import time

import numpy as np
import pytest
import yaml

from conftest import ROOT, S3_CREDENTIALS, Server, free_port

MODEL_DIR = ROOT / "crates/model-server/tests/data"
NAME = "sklearn-iris"
KSERVE_DIR = ROOT / "infra/k8s/base/kserve"

# Inliers like the training data (values in [j, j + 10)), then two far outliers.
ROWS = np.array(
    [[1.0 + j + 0.5 * i for j in range(5)] for i in range(8)] + [[500.0] * 5, [-300.0, 900.0, 40.0, -7.0, 1e4]],
    dtype=np.float64,
)


@pytest.fixture(scope="module")
def server(aiops_bin):
    port = free_port()
    process = Server(
        [str(aiops_bin), "serve-model", "--model-dir", str(MODEL_DIR), "--model-name", NAME, "--http-port", str(port)],
        port,
    )
    yield process
    process.stop()
    assert process.process.returncode == 0, "SIGTERM must shut the server down cleanly"


def check_outputs(predict, score, decision):
    assert predict.shape == score.shape == decision.shape == (len(ROWS),)
    assert set(predict.tolist()) <= {-1, 1}
    # decision_function = score_samples - offset, one offset for every row.
    offsets = score - decision
    assert np.allclose(offsets, offsets[0], rtol=0, atol=1e-12)
    # predict is -1 exactly where the decision is negative.
    assert (predict == np.where(decision < 0, -1, 1)).all()
    assert (predict[-2:] == -1).all(), predict
    assert (score[-2:] < score[:-2].min()).all()


def test_tritonclient_health_metadata_and_infer(server):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(NAME)
    assert client.is_model_ready(NAME, model_version="1")
    assert not client.is_model_ready("unknown-model")
    metadata = client.get_model_metadata(NAME)
    assert metadata["name"] == NAME
    assert metadata["inputs"][0]["shape"] == [-1, 5]
    assert [o["name"] for o in metadata["outputs"]] == ["predict", "score", "decision_function"]
    assert client.get_server_metadata()["name"] == "aiops-model-server"

    results = {}
    for datatype, array in [("FP64", ROWS), ("FP32", ROWS.astype(np.float32))]:
        inputs = [httpclient.InferInput("input-0", list(array.shape), datatype)]
        inputs[0].set_data_from_numpy(array, binary_data=False)
        outputs = [httpclient.InferRequestedOutput(n, binary_data=False) for n in ["predict", "score", "decision_function"]]
        result = client.infer(NAME, inputs, outputs=outputs, request_id="triton-1")
        assert result.get_response()["id"] == "triton-1"
        results[datatype] = [result.as_numpy(n) for n in ["predict", "score", "decision_function"]]
        check_outputs(*results[datatype])
    # The default output is predict alone.
    inputs = [httpclient.InferInput("input-0", list(ROWS.shape), "FP64")]
    inputs[0].set_data_from_numpy(ROWS, binary_data=False)
    default = client.infer(NAME, inputs)
    assert [o["name"] for o in default.get_response()["outputs"]] == ["predict"]
    assert (default.as_numpy("predict") == results["FP64"][0]).all()

    # A bad request is a 400 with the protocol's error JSON, and the server keeps serving.
    bad = [httpclient.InferInput("input-0", [2, 4], "FP64")]
    bad[0].set_data_from_numpy(np.zeros((2, 4)), binary_data=False)
    with pytest.raises(InferenceServerException) as error:
        client.infer(NAME, bad)
    assert error.value.status() == "400"
    assert "the model expects 5" in error.value.message()
    assert client.is_server_ready()


def test_kserve_rest_client_health_and_infer(server):
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
    from kserve.protocol.infer_type import RequestedOutput

    async def run():
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            assert await client.is_server_live(server.url)
            assert await client.is_server_ready(server.url)
            assert await client.is_model_ready(server.url, NAME)
            infer_input = InferInput(name="input-0", shape=list(ROWS.shape), datatype="FP64")
            infer_input.set_data_from_numpy(ROWS, binary_data=False)
            request = InferRequest(
                model_name=NAME,
                infer_inputs=[infer_input],
                request_id="kserve-1",
                request_outputs=[RequestedOutput(n) for n in ["predict", "score", "decision_function"]],
            )
            response = await client.infer(server.url, request, model_name=NAME)
        finally:
            await client.close()
        assert response.id == "kserve-1"
        assert response.model_name == NAME
        return {o.name: o.as_numpy() for o in response.outputs}

    outputs = asyncio.run(run())
    check_outputs(outputs["predict"], outputs["score"], outputs["decision_function"])


def crd_schema(crds: pathlib.Path, crd_file: str, version: str) -> dict:
    crd = yaml.safe_load((crds / crd_file).read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{crd_file} has no version {version}")


@pytest.fixture(scope="module")
def kserve_crds(shared_dir) -> pathlib.Path:
    return shared_dir / "crds/kserve"


def manifests() -> dict:
    found = {}
    for path in sorted(KSERVE_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found[doc["kind"]] = doc
    return found


def test_kserve_manifests_validate_against_the_crds(kserve_crds):
    import jsonschema

    docs = manifests()
    runtime, isvc = docs["ClusterServingRuntime"], docs["InferenceService"]
    for doc, crd_file in [
        (runtime, "serving.kserve.io_clusterservingruntimes.yaml"),
        (isvc, "serving.kserve.io_inferenceservices.yaml"),
    ]:
        version = doc["apiVersion"].split("/")[1]
        jsonschema.validate(doc, crd_schema(kserve_crds, crd_file, version))

    # The runtime: format aiops-iforest, protocol v2, our server reading /mnt/models under {{.Name}}.
    assert runtime["metadata"]["name"] == "aiops-iforest"
    assert [f["name"] for f in runtime["spec"]["supportedModelFormats"]] == ["aiops-iforest"]
    assert runtime["spec"]["protocolVersions"] == ["v2"]
    args = runtime["spec"]["containers"][0]["args"]
    assert args[0] == "serve-model"
    assert "--model-dir=/mnt/models" in args and "--model-name={{.Name}}" in args

    # The InferenceService: that runtime and format, a storageUri, a service account that exists.
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["runtime"] == runtime["metadata"]["name"]
    assert predictor["model"]["modelFormat"]["name"] == "aiops-iforest"
    assert predictor["model"]["protocolVersion"] == "v2"
    assert predictor["model"]["storageUri"].startswith("s3://")
    assert predictor["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    # Security by default: no credentials in the manifests.
    text = "\n".join(p.read_text() for p in KSERVE_DIR.glob("*.yaml")).lower()
    for secret_word in ["secret_access_key", "password", "aws_access_key_id"]:
        assert secret_word not in text


def test_a_wrong_manifest_is_refused_by_the_crd_schema(kserve_crds):
    """Guards the validation itself: a schema that accepted anything would make the test above moot."""
    import jsonschema

    isvc = manifests()["InferenceService"]
    isvc["spec"]["predictor"]["minReplicas"] = "one"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(isvc, crd_schema(kserve_crds, "serving.kserve.io_inferenceservices.yaml", "v1beta1"))


# --- models in S3 (moto) ----------------------------------------------------------------------

def test_score_and_serve_model_read_s3_like_a_local_file_and_reload_a_new_version(aiops_bin, tmp_path, s3):
    """`score --model s3://...` writes the very bytes of the local model's scores, and
    `serve-model --model s3://...` serves that model and swaps in a new object version."""
    import httpx2

    endpoint, client = s3
    rng = np.random.default_rng(7)
    features = tmp_path / "features.csv"
    rows = np.vstack([rng.uniform(0, 10, size=(300, 3)), [[90.0, -50.0, 400.0]]])
    np.savetxt(features, rows, delimiter=",", header="a,b,c", comments="", fmt="%.6f")
    models = {}
    for seed in ("1", "2"):
        models[seed] = tmp_path / f"model-{seed}.iforest"
        subprocess.run([str(aiops_bin), "train", "--features", str(features), "--model-out", str(models[seed]),
                        "--metrics-out", str(tmp_path / f"metrics-{seed}.json"), "--seed", seed], check=True)

    serving = None
    try:
        client.upload_file(str(models["1"]), "aiops-models", "iforest/model.iforest")
        env = {**os.environ, **S3_CREDENTIALS}

        def score(model, out):
            subprocess.run([str(aiops_bin), "score", "--model", model, "--s3-endpoint", endpoint,
                            "--input", str(features), "--output", str(out)], check=True, env=env)
            return out.read_bytes()

        local = score(str(models["1"]), tmp_path / "local.csv")
        assert local.count(b"\n") == len(rows) + 1
        assert score("s3://aiops-models/iforest/", tmp_path / "s3.csv") == local
        missing = subprocess.run([str(aiops_bin), "score", "--model", "s3://aiops-models/none/", "--s3-endpoint",
                                  endpoint, "--input", str(features), "--output", str(tmp_path / "x.csv")],
                                 env=env, capture_output=True, text=True)
        assert missing.returncode != 0 and "s3://aiops-models/none/model.iforest" in missing.stderr, missing.stderr

        model_port = free_port()
        serving = Server([str(aiops_bin), "serve-model", "--model", "s3://aiops-models/iforest/model.iforest",
                          "--s3-endpoint", endpoint, "--model-name", NAME, "--listen", f"127.0.0.1:{model_port}",
                          "--reload-interval", "200ms"], model_port, env=S3_CREDENTIALS)

        def digest():
            metadata = httpx2.get(f"{serving.url}/v2/models/{NAME}").json()
            return metadata["parameters"]["model_digest"]

        first = digest()
        client.upload_file(str(models["2"]), "aiops-models", "iforest/model.iforest")
        deadline = time.monotonic() + 20
        while digest() == first:
            assert time.monotonic() < deadline, "the new object version was not served"
            time.sleep(0.2)
        metrics = httpx2.get(f"{serving.url}/metrics").text
        assert 'aiops_model_reloads_total{outcome="loaded"} 1' in metrics, metrics
    finally:
        if serving is not None:
            serving.stop()
