import Engine
import TensorStore

/// The two spectral-norm conventions BigGAN checkpoints come with, on the engine's ops, with errors that name the
/// parameter. Both divide the stored weight by an estimate σ of its largest singular value, with the weight
/// viewed as a matrix `[out, in·kh·kw]`. The weights never change at inference, so σ is computed once, when the
/// model is built.
public enum SpectralNorm {
    /// `torch.nn.utils.spectral_norm` in eval mode (the HF BigGAN-deep port): σ = u·(W v) from the stored
    /// `weight_u [out]` and `weight_v [in·kh·kw]`, no power iteration (in train mode PyTorch would iterate and
    /// overwrite them; the released vectors already are the result of one iteration).
    public static func storedVectors(weight: Tensor, u: Tensor, v: Tensor, name: String) throws -> Tensor {
        do {
            return try checked(Ops.spectralNormalized(weight, u: u, v: v), name: name)
        } catch let e as EngineError {
            throw ModelError(e.description, location: name)
        }
    }

    /// ajbrock BigGAN-PyTorch `layers.SN.W_`: one power-iteration step from the stored `u0 [1, out]` on every
    /// call, also in eval mode (eval only skips writing `u0` and `sv0` back, so each call starts again from the
    /// stored `u0`): `v = normalize(u0 W)`, `t = W v`, `u = normalize(t)`, σ = t·u; normalize divides by
    /// max(‖x‖, eps). `sv0` is a log and plays no part. With several singular vectors (`u1`, …) σ still comes
    /// from `u0` alone (Gram–Schmidt leaves the first vector as it is).
    public static func onePowerIteration(weight: Tensor, u0: Tensor, eps: Double, name: String) throws -> Tensor {
        do {
            return try checked(Ops.spectralNormPowerIteration(weight, u: u0, eps: Float(eps)).weight, name: name)
        } catch let e as EngineError {
            throw ModelError(e.description, location: name)
        }
    }

    /// A zero or non-finite σ (degenerate weight or vectors) shows up as non-finite weights. The result is a
    /// parameter like the bound ones: frozen, so the engine keeps its packed form across calls.
    static func checked(_ w: Tensor, name: String) throws -> Tensor {
        guard w.floats().allSatisfy(\.isFinite) else {
            throw ModelError("spectral norm gives non-finite weights: the weight or its singular vectors are degenerate", location: name)
        }
        return w.frozen()
    }
}
