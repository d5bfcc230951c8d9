import CFuzzerDriver

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What every fuzz target shares: the input as bytes, and failures that name the input.
public enum FuzzInput {
    /// The signature of a fuzz target's input function.
    public typealias Target = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Runs libFuzzer with this program's command line (corpus folders, `-max_total_time=`, …)
    /// on `target`, and exits with its status.
    public static func run(_ target: Target) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, target))
    }

    /// The bytes libFuzzer hands `LLVMFuzzerTestOneInput` (it may pass a null pointer with count 0).
    public static func bytes(_ start: UnsafePointer<UInt8>?, _ count: Int) -> UnsafeBufferPointer<UInt8> {
        guard let start, count > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: start, count: count)
    }

    /// Stops the run as a crash that libFuzzer records, after printing what went wrong and the
    /// input (hex, at most 2 KiB of it): a disagreement between two decoders, a failed round trip
    /// or a broken bound is a finding just as a trap is.
    public static func fail(_ message: String, input: UnsafeBufferPointer<UInt8>) -> Never {
        let shown = input.prefix(2048)
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(shown.count * 2)
        for byte in shown {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0xF)])
        }
        let text =
            "\n==FUZZ FINDING== \(message)\ninput (\(input.count) bytes, hex\(input.count > shown.count ? ", first 2048" : "")): "
            + String(decoding: hex, as: UTF8.self) + "\n"
        var message = text
        message.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        abort()
    }
}
