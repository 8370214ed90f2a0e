/// Where each value read from a topology file was found, by key path, for ``TopologyValidator``'s errors.
///
/// A long list (an apiserver's pod IPs) is noted once, as a list: its items' positions are looked up in
/// the YAML tree when an error asks for `list[k]`, instead of a key path and an entry for each of 10,000.
struct SourceLocations {
    private var byPath: [String: SourceLocation] = [:]
    private var lists: [String: YAMLCursor] = [:]

    subscript(path: String) -> SourceLocation? {
        get { byPath[path] ?? item(path) }
        set { byPath[path] = newValue }
    }

    /// Makes `list[k]` resolvable for every item of `list`.
    mutating func noteItems(of list: YAMLCursor) { lists[list.path] = list }

    private func item(_ path: String) -> SourceLocation? {
        guard path.hasSuffix("]"), let open = path.lastIndex(of: "["),
            let list = lists[String(path[..<open])],
            let position = Int(path[path.index(after: open)..<path.index(before: path.endIndex)])
        else { return nil }
        let items = list.document.children(of: list.index)
        guard position >= 0, position < items.count else { return nil }
        let node = list.document[items[items.startIndex + position]]
        return SourceLocation(file: list.file, line: node.line, column: node.column)
    }
}
