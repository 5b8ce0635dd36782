#!/usr/bin/env python3
"""Writes the small torch-format fixtures and hostile files of Fixtures/torch and Fixtures/hostile.

No torch needed: the pickles name torch's globals through stand-in modules registered in sys.modules, so
Python's own pickler emits exactly the GLOBAL / persistent-id structure torch writes (see Formats/torch-*.md).
Each loadable fixture gets FILE.manifest.json: raw name -> dtype, shape, sha256 of C-contiguous LE bytes.
Usage: python3 Scripts/make_torch_fixtures.py OUT_TORCH_DIR OUT_HOSTILE_DIR
"""
import collections, hashlib, io, json, os, pickle, struct, sys, tarfile, types, zipfile, zlib
import numpy as np

def stand_in(modname, *names):
    parts = modname.split('.')
    for i in range(1, len(parts)):
        sys.modules.setdefault('.'.join(parts[:i]), types.ModuleType('.'.join(parts[:i])))
    mod = sys.modules.get(modname) or types.ModuleType(modname)
    sys.modules[modname] = mod
    for n in names:
        obj = type(n, (), {}) if n[0].isupper() else (lambda *a: None)
        obj.__name__ = obj.__qualname__ = n
        obj.__module__ = modname
        setattr(mod, n, obj)
    return mod

torch = stand_in('torch', 'FloatStorage', 'DoubleStorage', 'HalfStorage', 'LongStorage', 'IntStorage', 'BoolStorage',
                 'ByteStorage', 'UntypedStorage', 'uint16')
tutils = stand_in('torch._utils', '_rebuild_tensor_v2', '_rebuild_tensor_v3', '_rebuild_parameter')
tstorage = stand_in('torch.storage', '_load_from_bytes')
persistence = stand_in('torch_utils.persistence', '_reconstruct_persistent_obj')
stand_in('dnnlib.util', 'EasyDict')
conv = stand_in('torch.nn.modules.conv', 'Conv2d')
STYPE = {np.float32: torch.FloatStorage, np.float64: torch.DoubleStorage, np.float16: torch.HalfStorage,
         np.int64: torch.LongStorage, np.int32: torch.IntStorage, np.bool_: torch.BoolStorage, np.uint8: torch.ByteStorage}
ST_NAME = {np.float32: 'F32', np.float64: 'F64', np.float16: 'F16', np.int64: 'I64', np.int32: 'I32', np.bool_: 'BOOL',
           np.uint8: 'U8', np.uint16: 'U16'}

class Storage:
    def __init__(self, key, arr, untyped=False):
        self.key, self.arr, self.untyped = key, np.ascontiguousarray(arr).reshape(-1), untyped

class Tensor:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, tuple(shape), tuple(stride)
    def __reduce__(self):
        if self.storage.untyped:
            return (tutils._rebuild_tensor_v3, (self.storage, self.offset, self.shape, self.stride, False,
                                                collections.OrderedDict(), torch.uint16))
        return (tutils._rebuild_tensor_v2, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))
    def expected(self):
        a = self.storage.arr
        v = np.lib.stride_tricks.as_strided(a[self.offset:], self.shape, [s * a.itemsize for s in self.stride])
        c = np.ascontiguousarray(v).astype(a.dtype.newbyteorder('<'))
        return {'dtype': ST_NAME[a.dtype.type], 'shape': list(self.shape), 'sha256': hashlib.sha256(c.tobytes()).hexdigest()}

class Parameter:
    def __init__(self, t): self.t = t
    def __reduce__(self): return (tutils._rebuild_parameter, (self.t, False, collections.OrderedDict()))

class ZipPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            if obj.untyped: return ('storage', torch.UntypedStorage, obj.key, 'cpu', obj.arr.nbytes)
            return ('storage', STYPE[obj.arr.dtype.type], obj.key, 'cpu', obj.arr.size)
        return None

class LegacyPickler(pickle.Pickler):
    views = {}
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', STYPE[obj.arr.dtype.type], obj.key, 'cpu', obj.arr.size, self.views.get(obj.key))
        return None

def legacy_header(big_endian=False):
    f = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({'protocol_version': 1001, 'little_endian': not big_endian, 'type_sizes': {'short': 2, 'int': 4, 'long': 8}}, f, protocol=2)
    return f.getvalue()

def legacy_bytes(root, storages, big_endian=False):
    f = io.BytesIO()
    f.write(legacy_header(big_endian))
    LegacyPickler(f, protocol=2).dump(root)
    keys = sorted(s.key for s in storages)
    pickle.dump(keys, f, protocol=2)
    by = {s.key: s for s in storages}
    for k in keys:
        f.write(struct.pack('<q', by[k].arr.size))
        f.write(by[k].arr.tobytes())
    return f.getvalue()

def zip_bytes(root, storages, prefix='archive', byteorder='little', compress_key=None):
    pk = io.BytesIO()
    ZipPickler(pk, protocol=2).dump(root)
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as z:
        z.writestr(f'{prefix}/data.pkl', pk.getvalue())
        z.writestr(f'{prefix}/byteorder', byteorder)
        for s in storages:
            arr = s.arr.astype(s.arr.dtype.newbyteorder('>')) if byteorder == 'big' else s.arr
            ctype = zipfile.ZIP_DEFLATED if s.key == compress_key else zipfile.ZIP_STORED
            z.writestr(zipfile.ZipInfo(f'{prefix}/data/{s.key}'), arr.tobytes(), compress_type=ctype)
        z.writestr(f'{prefix}/version', '3\n')
    return out.getvalue()

def write(path, data, manifest=None):
    with open(path, 'wb') as f: f.write(data)
    if manifest is not None:
        with open(path + '.manifest.json', 'w') as f: json.dump(manifest, f, indent=1, sort_keys=True)

def flat(d, prefix=''):
    out = {}
    for k, v in d.items():
        name = f'{prefix}{k}'
        if isinstance(v, Tensor): out[name] = v.expected()
        elif isinstance(v, Parameter): out[name] = v.t.expected()
        elif isinstance(v, dict): out.update(flat(v, name + '.'))
    return out

def main(tdir, hdir):
    os.makedirs(tdir, exist_ok=True); os.makedirs(hdir, exist_ok=True)
    rng = np.random.default_rng(7)

    # Legacy stream: shared storage with two views, a transposed (non-contiguous) view, 0-d int64, f16, bool, u8,
    # and an old-style storage view (6th persistent-id field).
    s0 = Storage('140000000000', rng.standard_normal(100).astype(np.float32))
    s1 = Storage('140000000100', rng.standard_normal(24).astype(np.float32))
    s2 = Storage('140000000200', np.array([1234567], dtype=np.int64))
    s3 = Storage('140000000300', rng.standard_normal(6).astype(np.float16))
    s4 = Storage('140000000400', np.array([True, False, True]))
    s5 = Storage('140000000500', np.arange(12, dtype=np.uint8))
    s6 = Storage('140000000600', rng.standard_normal(10).astype(np.float64))
    sd = collections.OrderedDict([
        ('a.view10', Tensor(s0, 10, (4, 5), (5, 1))), ('a.view50', Tensor(s0, 50, (10,), (1,))),
        ('b.transposed', Tensor(s1, 0, (4, 6), (1, 4))), ('c.num_batches_tracked', Tensor(s2, 0, (), ())),
        ('d.half', Tensor(s3, 0, (2, 3), (3, 1))), ('e.mask', Tensor(s4, 0, (3,), (1,))),
        ('f.bytes', Tensor(s5, 2, (2, 5), (5, 1))), ('g.double', Tensor(s6, 0, (10,), (1,)))])
    write(f'{tdir}/legacy-views.pt', legacy_bytes(sd, [s0, s1, s2, s3, s4, s5, s6]), flat(sd))

    # Torch zip with an unusual root folder, big-endian records and an untyped storage read through v3.
    b0 = Storage('0', rng.standard_normal(12).astype(np.float32))
    b1 = Storage('1', np.arange(6, dtype=np.int64))
    sdz = {'model': collections.OrderedDict([('w', Tensor(b0, 0, (3, 4), (4, 1))), ('wt', Tensor(b0, 0, (4, 3), (1, 4))),
                                             ('idx', Tensor(b1, 1, (5,), (1,)))]), 'epoch': 3, 'lr': 0.5}
    write(f'{tdir}/zip-bigendian.pt', zip_bytes(sdz, [b0, b1], prefix='my model.v2', byteorder='big'), flat(sdz))
    u0 = Storage('0', np.arange(8, dtype=np.uint16), untyped=True)
    sdu = {'u16': Tensor(u0, 0, (2, 4), (4, 1))}
    write(f'{tdir}/zip-untyped-v3.pt', zip_bytes(sdu, [u0]), flat(sdu))

    # Protocol-2 NVlabs-style pickle: persistent module records, nested _load_from_bytes blobs written as
    # _codecs.encode(latin-1 str), __builtin__.set, EasyDict kwargs, numpy scalars.
    class Blob:
        def __init__(self, arr): self.arr = arr
        def __reduce__(self):
            s = Storage('9400000', self.arr)
            return (tstorage._load_from_bytes, (legacy_bytes(s, [s]),))
    def btensor(arr, shape):
        t = Tensor(Storage('x', arr), 0, shape, [int(np.prod(shape[i + 1:])) for i in range(len(shape))])
        class T:
            def __reduce__(self): return (tutils._rebuild_tensor_v2, (Blob(arr), 0, tuple(shape), tuple(t.stride), False, collections.OrderedDict()))
        return T(), t.expected()
    class PObj:
        def __init__(self, cls, state): self.cls, self.state = cls, state
        def __reduce__(self):
            return (persistence._reconstruct_persistent_obj, ({'type': 'class', 'version': 6, 'module_src': '# source omitted',
                                                               'class_name': self.cls, 'state': self.state},))
    def module_state(params, buffers, modules, **attrs):
        st = {'training': False, '_parameters': collections.OrderedDict(params), '_buffers': collections.OrderedDict(buffers),
              '_non_persistent_buffers_set': set(), '_modules': collections.OrderedDict(modules)}
        st.update(attrs)
        return st
    manifest = {}
    w, mw = btensor(rng.standard_normal(8).astype(np.float32), (2, 4))
    bsz, mb = btensor(rng.standard_normal(2).astype(np.float32), (2,))
    avg, mavg = btensor(rng.standard_normal(4).astype(np.float32), (4,))
    fc = PObj('FullyConnectedLayer', module_state([('weight', w), ('bias', bsz)], [], [], weight_gain=np.float64(0.5)))
    mapping = PObj('MappingNetwork', module_state([], [('w_avg', avg)], [('fc0', fc)], num_ws=np.int64(6)))
    G = PObj('Generator', module_state([], [], [('mapping', mapping), ('synthesis', None)],
                                       _init_args=(), _init_kwargs={'z_dim': 4, 'mapping_kwargs': {'num_layers': 1}}))
    manifest.update({'G_ema.mapping.fc0.weight': mw, 'G_ema.mapping.fc0.bias': mb, 'G_ema.mapping.w_avg': mavg})
    snap = {'G': None, 'D': None, 'G_ema': G, 'augment_pipe': None, 'training_set_kwargs': {'resolution': 16}}
    write(f'{tdir}/nvlabs-proto2.pkl', pickle.dumps(snap, protocol=2), manifest)

    # A whole pickled torch.nn module (NEWOBJ + BUILD of its __dict__), protocol 2.
    mod = conv.Conv2d.__new__(conv.Conv2d)
    cw = Storage('0', rng.standard_normal(18).astype(np.float32))
    mod.__dict__.update({'training': True, '_parameters': collections.OrderedDict([('weight', Parameter(Tensor(cw, 0, (2, 1, 3, 3), (9, 9, 3, 1)))), ('bias', None)]),
                         '_buffers': collections.OrderedDict(), '_modules': collections.OrderedDict(), 'in_channels': 1})
    write(f'{tdir}/whole-module.pt', zip_bytes(mod, [cw]), {'weight': Tensor(cw, 0, (2, 1, 3, 3), (9, 9, 3, 1)).expected()})

    # numpy arrays in plain pickles at protocols 0, 1, 3 and 5 (text opcodes, INST-free binary, BINBYTES, frames).
    arrs = {'x': rng.standard_normal((3, 2)).astype(np.float32), 'y': np.arange(5, dtype=np.int64),
            'z': np.asfortranarray(rng.standard_normal((2, 3))), 'b': np.array([True, False])}
    npman = {k: {'dtype': {'float32': 'F32', 'int64': 'I64', 'float64': 'F64', 'bool': 'BOOL'}[str(v.dtype)], 'shape': list(v.shape),
                 'sha256': hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()} for k, v in arrs.items()}
    for proto in (0, 1, 3, 5):
        write(f'{tdir}/numpy-proto{proto}.pkl', pickle.dumps({**arrs, 'note': 'numpy', 'scale': np.float32(2.5)}, protocol=proto), npman)

    # Old tar container (torch <= 0.1.x): sys_info, storages, tensors, pickle.
    ts = rng.standard_normal(6).astype(np.float32)
    def tar_member(tf, name, data):
        info = tarfile.TarInfo(name); info.size = len(data); tf.addfile(info, io.BytesIO(data))
    tb = io.BytesIO()
    with tarfile.open(fileobj=tb, mode='w', format=tarfile.USTAR_FORMAT) as tf:
        tar_member(tf, 'sys_info', pickle.dumps({'protocol_version': 1000, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 8}}, protocol=2))
        st = io.BytesIO(); pickle.dump(1, st, protocol=2); pickle.dump((0, 'cpu', torch.FloatStorage), st, protocol=2)
        st.write(struct.pack('<q', 6)); st.write(ts.tobytes()); pickle.dump([], st, protocol=2)
        tar_member(tf, 'storages', st.getvalue())
        tt = io.BytesIO(); pickle.dump(1, tt, protocol=2); pickle.dump((1, 0, 'FloatTensor'), tt, protocol=2)
        tt.write(struct.pack('<iI', 2, 0)); tt.write(struct.pack('<qq', 2, 3)); tt.write(struct.pack('<qq', 1, 2)); tt.write(struct.pack('<q', 0))
        tar_member(tf, 'tensors', tt.getvalue())
        class PidPickler(pickle.Pickler):
            def persistent_id(self, obj): return '1' if obj is MARK else None
        MARK = object()
        pk = io.BytesIO(); PidPickler(pk, protocol=2).dump({'weight': MARK}); tar_member(tf, 'pickle', pk.getvalue())
    tview = np.lib.stride_tricks.as_strided(ts, (2, 3), (4, 8))
    write(f'{tdir}/tar-format.tar', tb.getvalue(), {'weight': {'dtype': 'F32', 'shape': [2, 3], 'sha256': hashlib.sha256(np.ascontiguousarray(tview).tobytes()).hexdigest()}})

    # ---- Hostile files (each must be refused or rejected; scan must name the dangerous globals) ----
    hostile = []
    def h(name, data, expect, dangerous=(), note=''):
        write(f'{hdir}/{name}', data); hostile.append({'file': name, 'expect': expect, 'dangerous_globals': list(dangerous), 'note': note})
    h('proto0_os_system.pkl', b"cos\nsystem\n(S'echo x'\ntR.", 'error', ['os.system'], 'protocol 0 GLOBAL + REDUCE')
    h('inst_subprocess.pkl', b"(S'ls'\nisubprocess\ncheck_output\n.", 'error', ['subprocess.check_output'], 'INST opcode')
    h('stack_global_memo.pkl', b'\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x04echo\x85R.', 'error', ['os.system'],
      'STACK_GLOBAL operands from the memo')
    h('stack_global_non_string.pkl', b'\x80\x04K\x01K\x02\x93.', 'error', [], 'STACK_GLOBAL on ints')
    h('builtin_alias_getattr.pkl', b'\x80\x02c__builtin__\ngetattr\nq\x00.', 'error', ['__builtin__.getattr'], 'python-2 alias')
    h('frame_straddle.pkl', b'\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00\x8c\x05hello.', 'error', [], 'operand crosses FRAME end')
    h('setitem_on_list.pkl', b'\x80\x02]K\x01K\x02s.', 'error', [], 'SETITEM on a list')
    h('long4_negative.pkl', b'\x80\x02\x8b\xff\xff\xff\xff.', 'error', [], 'LONG4 negative length')
    h('binunicode8_huge.pkl', b'\x80\x04\x8d' + struct.pack('<Q', 1 << 60) + b'abc.', 'error', [], 'length far past the end')
    h('not_a_checkpoint.pt', b'\x89PNG\r\n\x1a\n' + bytes(64), 'error', [], 'PNG renamed .pt')
    h('empty.pkl', b'', 'error', [], 'empty file')
    # Legacy magic computed by eval instead of the literal LONG1 (picklescan's pytorch_magic_bypass shape).
    bypass = b'\x80\x02c__builtin__\neval\nX\x16\x00\x00\x000x1950A86A20F9469CFC6C\x85R.' + legacy_bytes({}, [])[15:]
    h('legacy_magic_by_eval.pt', bypass, 'error', ['__builtin__.eval'], 'legacy magic produced by eval instead of a literal LONG1')
    # Nested _load_from_bytes blob whose main pickle calls os.system.
    evil_blob = legacy_header() + b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R." + pickle.dumps([], protocol=2)
    class EvilBlob:
        def __reduce__(self): return (tstorage._load_from_bytes, (evil_blob,))
    h('nested_blob_os_system.pkl', pickle.dumps({'w': EvilBlob()}, protocol=4), 'error', ['os.system'], 'dangerous global inside a nested blob')
    # Deflated storage record: 64 MiB of zeros in a 64 KiB member.
    bomb = Storage('0', np.zeros(16 << 20, dtype=np.float32))
    h('zip_deflate_bomb.pt', zip_bytes({'w': Tensor(bomb, 0, (16 << 20,), (1,))}, [bomb], compress_key='0'), 'error', [], 'compressed storage record at ~1000:1')
    # Storage record shorter than its persistent id declares.
    short = Storage('0', np.zeros(4, dtype=np.float32))
    zb = zip_bytes({'w': Tensor(short, 0, (4,), (1,))}, [Storage('0', np.zeros(3, dtype=np.float32))])
    h('zip_record_short.pt', zb, 'error', [], 'record of 12 bytes for a 4-element float storage')
    # Memo-shared DAG: 2^40 paths to one list.
    dag = bytearray(b'\x80\x02]q\x00')
    for i in range(40):
        dag += b'h' + bytes([i]) + b'h' + bytes([i]) + b'\x86q' + bytes([i + 1])
    dag += b'.'
    h('memo_dag_bomb.pkl', bytes(dag), 'error', [], '40 doublings through the memo')
    with open(f'{hdir}/torch-hostile.json', 'w') as f: json.dump(hostile, f, indent=1)

if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
