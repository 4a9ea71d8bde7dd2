"""gguf_writer.py - a minimal GGUF (version 3) writer for the reference models.

Writes the header, key/value metadata, tensor infos, padding to the alignment
and the tensor data, little-endian. Only what scripts/train-ref-models.py needs:
scalar, string and array values; F32, F16 and Q8_0 tensors from numpy arrays.
Standard library and numpy only (the GPU machine has nothing else).
"""
import struct

import numpy as np

# value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
# tensor types (ggml_type)
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
ALIGN = 32

_SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
           FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, v):
    if vtype == STRING:
        return _str(v)
    return struct.pack(_SCALAR[vtype], v)


class GGUFWriter:
    def __init__(self):
        self.kv = []       # (key, type, payload bytes)
        self.tensors = []  # (name, dims (ggml order), ggml type, bytes)

    def add(self, key, vtype, value):
        self.kv.append((key, vtype, _value(vtype, value)))

    def add_array(self, key, etype, values):
        body = struct.pack("<IQ", etype, len(values)) + b"".join(_value(etype, v) for v in values)
        self.kv.append((key, ARRAY, body))

    def add_tensor(self, name, array, ttype=GGML_F32):
        """array in PyTorch order ([out, in] for a weight); GGUF dims are the reverse."""
        a = np.ascontiguousarray(array, dtype=np.float32)
        dims = list(reversed(a.shape))
        if ttype == GGML_F32:
            data = a.astype("<f4").tobytes()
        elif ttype == GGML_F16:
            data = a.astype("<f2").tobytes()
        elif ttype == GGML_Q8_0:
            data = quantize_q8_0(a)
        else:
            raise ValueError("unsupported tensor type %d" % ttype)
        self.tensors.append((name, dims, ttype, data))

    def write(self, path):
        kv = list(self.kv)
        kv.insert(0, ("general.alignment", UINT32, struct.pack("<I", ALIGN))) if not any(
            k == "general.alignment" for k, _, _ in kv) else None
        out = bytearray()
        out += b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(kv))
        for key, vtype, payload in kv:
            out += _str(key) + struct.pack("<I", vtype) + payload
        offset = 0
        offsets = []
        for name, dims, ttype, data in self.tensors:
            offsets.append(offset)
            out += _str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
            out += struct.pack("<IQ", ttype, offset)
            offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
        out += b"\0" * (-len(out) % ALIGN)
        for (name, dims, ttype, data), off in zip(self.tensors, offsets):
            out += data + b"\0" * (-len(data) % ALIGN)
        with open(path, "wb") as f:
            f.write(out)
        return len(out)


def quantize_q8_0(a):
    """Q8_0: blocks of 32 values along a row, each an f16 scale d = max|x| / 127 and 32 int8 x / d."""
    flat = a.reshape(-1, 32)
    amax = np.abs(flat).max(axis=1, keepdims=True)
    d = amax / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0)
    q = np.clip(np.round(flat * inv), -127, 127).astype(np.int8)
    blocks = np.zeros(flat.shape[0], dtype=[("d", "<f2"), ("q", "i1", 32)])
    blocks["d"] = d[:, 0].astype(np.float16)
    blocks["q"] = q
    return blocks.tobytes()


def dequantize_q8_0(a):
    """What llama.cpp computes with after quantize_q8_0 (for evaluating the exported weights)."""
    flat = a.reshape(-1, 32).astype(np.float32)
    amax = np.abs(flat).max(axis=1, keepdims=True)
    d = (amax / 127.0).astype(np.float16).astype(np.float32)
    dd = amax / 127.0
    inv = np.where(dd > 0, 1.0 / np.where(dd > 0, dd, 1), 0)
    q = np.clip(np.round(flat * inv), -127, 127)
    return (q * d).reshape(a.shape)
