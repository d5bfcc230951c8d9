import Foundation
import OutpostCLI

exit(OutpostCommand.execute(Array(CommandLine.arguments.dropFirst())))
