/// The version of Outpost's programs (`outpost --version`, `outpost-server --version`): one place for both.
public let outpostVersion = "0.6.0"
