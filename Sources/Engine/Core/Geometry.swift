/// A pair of sizes along height and width (kernel sizes, strides, dilations, scale factors).
/// An integer literal means the same value on both axes: `stride: 2`.
public struct Size2: Equatable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(_ both: Int) { self.h = both; self.w = both }
    public init(integerLiteral value: Int) { self.init(value) }
    public var description: String { h == w ? "\(h)" : "(\(h), \(w))" }
}

/// Padding of the four sides of an image. An integer literal pads every side equally (PyTorch `padding=p`);
/// `Padding2D(h:w:)` is PyTorch's `(ph, pw)`; the full form allows asymmetric padding (Keras "same" with
/// odd totals, `F.pad`) and, where an op says so, negative values that crop.
public struct Padding2D: Equatable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }
    /// PyTorch's `padding=(ph, pw)`: `ph` rows above and below, `pw` columns left and right.
    public init(h: Int, w: Int) { self.init(top: h, bottom: h, left: w, right: w) }
    public init(_ all: Int) { self.init(top: all, bottom: all, left: all, right: all) }
    public init(integerLiteral value: Int) { self.init(value) }
    /// StyleGAN's upfirdn2d order `[x0, x1, y0, y1]` (left, right, top, bottom).
    public init(x0: Int, x1: Int, y0: Int, y1: Int) { self.init(top: y0, bottom: y1, left: x0, right: x1) }
    public static let zero = Padding2D(0)
    public var description: String { "[l \(left), r \(right), t \(top), b \(bottom)]" }
}
