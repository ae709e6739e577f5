"""Pure reading rules: bytes in, records out. No disk, no Prefect, no DuckDB."""

from newsdrop.transforms.decode import Decoded, Rejected, RejectReason, decode
from newsdrop.transforms.read import Reading, read_drop

__all__ = ["Decoded", "Reading", "RejectReason", "Rejected", "decode", "read_drop"]
