import TensorStore

/// The CPU tensor engine: float32, NCHW, on OpenBLAS.
///
/// Every op is a static function on `Ops`, takes and returns `Tensor` (any dtype/layout is accepted and
/// converted to contiguous f32 once; outputs are contiguous f32 in owned memory) and throws `EngineError`
/// when shapes do not fit. Semantics follow the PyTorch (or Keras / StyleGAN reference) op of the same name;
/// each function's documentation says which, and `Formats/engine.md` lists conventions and tolerances.
///
/// ```swift
/// var x = try Ops.conv2d(x, weight: w, bias: b, padding: 1)
/// x = try Ops.biasAct(x, bias: nil, activation: .lrelu)
/// x = try Ops.upfirdn2d(x, filter: f, up: 2, padding: Padding2D(x0: 2, x1: 1, y0: 2, y1: 1), gain: 4)
/// ```
public enum Ops {}
