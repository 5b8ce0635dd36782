import Foundation
import Testing
@testable import GANKit

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        // FIPS 180-2 examples.
        var a = SHA256()
        a.update(Array("abc".utf8))
        #expect(SHA256.hex(a.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var b = SHA256()
        b.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(SHA256.hex(b.finalize()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var e = SHA256()
        #expect(SHA256.hex(e.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func chunkingDoesNotMatter() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var whole = SHA256()
        whole.update(data)
        var parts = SHA256()
        var i = 0
        for size in [1, 63, 64, 65, 7, 200, 600] where i < data.count {
            parts.update(Array(data[i..<min(data.count, i + size)]))
            i += size
        }
        if i < data.count { parts.update(Array(data[i...])) }
        #expect(whole.finalize() == parts.finalize())
    }

    @Test func fileDigestMatchesFoundationBytes() throws {
        let path = ModelFixtures.path("keras-dcgan-16.golden.npz")
        let bytes = try #require(FileManager.default.contents(atPath: path))
        var h = SHA256()
        h.update(Array(bytes))
        #expect(try SHA256.hexDigest(ofFile: path) == SHA256.hex(h.finalize()))
    }
}

@Suite struct GaussianRNGTests {
    @Test func matchesNumPyRandomState() {
        // numpy.random.RandomState(0).randn(4) and RandomState(123).randn(3).
        var r0 = GaussianRNG(seed: 0)
        let v0 = (0..<4).map { _ in r0.nextGaussian() }
        for (a, b) in zip(v0, [1.76405235, 0.40015721, 0.97873798, 2.2408932]) { #expect(abs(a - b) < 1e-7) }
        var r1 = GaussianRNG(seed: 123)
        let v1 = (0..<3).map { _ in r1.nextGaussian() }
        for (a, b) in zip(v1, [-1.0856306, 0.99734545, 0.2829785]) { #expect(abs(a - b) < 1e-7) }
    }

    @Test func seedsDiffer() {
        #expect(Sampler.latent(seed: 1, zDim: 8) != Sampler.latent(seed: 2, zDim: 8))
        #expect(Sampler.latent(seed: 5, zDim: 8) == Sampler.latent(seed: 5, zDim: 8))
    }

    @Test func slerpEndsAtItsEndpoints() {
        let a: [Float] = [1, 0, 0], b: [Float] = [0, 1, 0]
        #expect(Sampler.slerp(a, b, 0) == a)
        let end = Sampler.slerp(a, b, 1)
        #expect(abs(end[1] - 1) < 1e-6 && abs(end[0]) < 1e-6)
        let mid = Sampler.slerp(a, b, 0.5)
        // On the unit circle, not the chord.
        #expect(abs(mid[0] * mid[0] + mid[1] * mid[1] - 1) < 1e-5)
    }
}

@Suite struct PNGTests {
    @Test func gridWritesAReadablePNG() throws {
        let batch = tensor([5, 3, 4, 6]) { Float($0 % 7) / 3 - 1 }
        let grid = try ImageGrid(batch: batch, range: .minusOneToOne, gap: 1)
        // 5 images → 3 columns, 2 rows.
        #expect(grid.width == 3 * 6 + 2 && grid.height == 2 * 4 + 1 && grid.channels == 3)
        let dir = temporaryDirectory()
        let path = dir + "/grid.png"
        try PNGWriter.write(grid, to: path)
        let (w, h, c) = try PNGWriter.readInfo(path: path)
        #expect(w == grid.width && h == grid.height && c == 3)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func pixelMappingFollowsTheReferences() throws {
        let batch = Tensor(shape: [1, 1, 1, 4], floats: [-1, 0, 1, 2])
        let g = try ImageGrid(batch: batch, range: .minusOneToOne)
        #expect(g.pixels == [0, 128, 255, 255])
        let s = try ImageGrid(batch: Tensor(shape: [1, 1, 1, 3], floats: [0, 0.5, 1]), range: .zeroToOne)
        #expect(s.pixels == [0, 128, 255])
    }
}
