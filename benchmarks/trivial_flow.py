"""The floor for any Prefect-orchestrated run: a flow that does nothing, in a fresh process.

    python benchmarks/trivial_flow.py
"""

from prefect import flow


@flow(name="trivial")
def trivial() -> None:
    return None


if __name__ == "__main__":
    trivial()
