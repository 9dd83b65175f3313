"""Creates the recurring run of recurring-run.yaml on a Kubeflow Pipelines endpoint.

    aiops pipeline compile --image ghcr.io/aiops-rs/aiops:0.1.0 --output pipeline.yaml
    python infra/kubeflow/schedule.py --host http://ml-pipeline-ui.kubeflow:80 --package pipeline.yaml
"""

import argparse
import pathlib

import yaml

SPEC = pathlib.Path(__file__).with_name("recurring-run.yaml")


def load_spec(path: pathlib.Path = SPEC) -> dict:
    """The recurring run's keyword arguments, `experiment_name` still unresolved."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def main() -> None:
    import kfp

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", required=True, help="Kubeflow Pipelines API endpoint")
    parser.add_argument("--package", required=True, type=pathlib.Path, help="compiled pipeline YAML")
    parser.add_argument("--spec", type=pathlib.Path, default=SPEC, help="recurring run spec")
    args = parser.parse_args()

    spec = load_spec(args.spec)
    client = kfp.Client(host=args.host)
    experiment = client.create_experiment(name=spec.pop("experiment_name"))
    run = client.create_recurring_run(
        experiment_id=experiment.experiment_id,
        pipeline_package_path=str(args.package),
        **spec,
    )
    print(f"recurring run {run.recurring_run_id} created")


if __name__ == "__main__":
    main()
