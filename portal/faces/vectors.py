"""Face encodings as stored (float32 bytes), the match threshold, and the 1:N matcher over a site's encodings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy is imported where it is used: a process that never matches a face (a gunicorn worker serving the gate,
# the bridge, a command) starts 45 ms sooner without it.

DIM = 128
THRESHOLD = 0.6  # face_recognition's usual cut-off: same person below, different above


def encode_vector(values) -> bytes:
    """A 128-d encoding as float32 bytes (512 bytes) for storage."""
    import numpy as np

    vec = np.asarray(values, dtype=np.float32).reshape(-1)
    if vec.shape != (DIM,) or not np.all(np.isfinite(vec)):
        raise ValueError("a face encoding has 128 finite values")
    return vec.tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    """Inverse of encode_vector."""
    import numpy as np

    return np.frombuffer(blob, dtype=np.float32, count=DIM)


class FaceIndex:
    """Encodings of one site as a float32 matrix with precomputed squared norms.

    Euclidean distance via |a-b|^2 = |a|^2 + |b|^2 - 2a.b needs one matrix-vector product
    per query instead of subtracting every row (face_recognition.face_distance does that in float64).
    """

    def __init__(self, keys, matrix):
        import numpy as np

        self.keys = np.asarray(keys, dtype=np.int64)
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1, DIM)
        if len(self.keys) != len(self.matrix):
            raise ValueError("one key per encoding")
        self.sq_norms = np.einsum("ij,ij->i", self.matrix, self.matrix)

    @classmethod
    def from_rows(cls, rows):
        """Build from (key, encoding bytes) pairs."""
        import numpy as np

        rows = list(rows)
        if not rows:
            return cls(np.empty(0, dtype=np.int64), np.empty((0, DIM), dtype=np.float32))
        keys = [k for k, _ in rows]
        matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32).reshape(-1, DIM)
        return cls(keys, matrix)

    def __len__(self):
        return len(self.keys)

    def search(self, query, limit=5, threshold=THRESHOLD):
        """The closest encodings as [(key, distance)], nearest first, only those under the threshold."""
        import numpy as np

        if not len(self.keys):
            return []
        q = np.asarray(query, dtype=np.float32).reshape(DIM)
        # einsum runs single-threaded in numpy itself: BLAS's threaded gemv is faster when idle
        # but waits for busy cores, which makes the slowest searches far worse on a loaded machine.
        d2 = self.sq_norms - 2.0 * np.einsum("ij,j->i", self.matrix, q) + float(q @ q)
        limit = max(1, min(limit, len(d2)))
        if limit < len(d2):
            idx = np.argpartition(d2, limit - 1)[:limit]
        else:
            idx = np.arange(len(d2))
        idx = idx[np.argsort(d2[idx])]
        # Rounding can make d2 slightly negative for an identical vector.
        dist = np.sqrt(np.maximum(d2[idx], 0.0))
        return [(int(self.keys[i]), float(d)) for i, d in zip(idx, dist, strict=True) if d < threshold]
