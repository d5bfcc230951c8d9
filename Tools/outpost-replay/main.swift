// outpost-replay FILE...: replays conflict scenarios through the real store and sync engine.
// One JSON line per file; exit 0 all pass, 1 an expectation failed, 2 a file is malformed.
import Foundation
import OutpostSync

let status = await ScenarioRunner().main(
    arguments: Array(CommandLine.arguments.dropFirst()),
    output: { print($0) },
    errors: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
exit(status)
