import Yams

/// Reads a topology document. Every error names file, line, column and key path.
public enum TopologyDecoder {
    /// Decodes and validates one YAML document. `file` is only used in error messages.
    public static func decode(yaml: String, file: String) throws(HAVPNError) -> Topology {
        // STUB: implemented by the model work (strict keys, types, validation).
        _ = yaml
        _ = file
        return Topology()
    }
}
