import HAVPNModel

extension Array {
    /// `sorted(by:)` that moves indices, not elements, and compares precomputed keys. A merge sort
    /// moves every element about log₂(n) times, and an element that holds a string (a route's
    /// device) costs a retain and a release per move; comparing two routes field by field through
    /// their enums costs more than comparing three integers. Sorting the 10,000 routes of a large
    /// shoot pod the plain way was a quarter of a no-op plan's instructions.
    /// Elements with equal keys are ordered by `tieBreak`.
    func sortedByIndices<Key: Comparable>(
        key: (Element) -> Key,
        tieBreak: (Element, Element) -> Bool
    ) -> [Element] {
        let keys = map(key)
        var order = Array<Int>(indices)
        withUnsafeBufferPointer { elements in
            keys.withUnsafeBufferPointer { keys in
                order.sort { i, j in
                    keys[i] != keys[j] ? keys[i] < keys[j] : tieBreak(elements[i], elements[j])
                }
            }
        }
        return order.map { self[$0] }
    }

    /// The elements sorted as by ``sortedByIndices(key:tieBreak:)``, each run of neighbours that
    /// are `same` reduced to its first. With a total order, `same` neighbours are all there are.
    func sortedUnique<Key: Comparable>(
        key: (Element) -> Key,
        tieBreak: (Element, Element) -> Bool,
        same: (Element, Element) -> Bool
    ) -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(count)
        for element in sortedByIndices(key: key, tieBreak: tieBreak) {
            if let last = out.last, same(last, element) { continue }
            out.append(element)
        }
        return out
    }
}

/// A route key's order (``RouteKey``'s `<`: destination address with IPv4 first, prefix length,
/// metric) as integers.
struct RouteOrderKey: Comparable {
    var family: UInt8
    var high: UInt64
    var low: UInt64
    var prefixLength: Int
    var metric: Int

    init(_ destination: IPNetwork, metric: Int) {
        switch destination.address {
        case .v4(let a): (family, high, low) = (0, 0, UInt64(a.value))
        case .v6(let a): (family, high, low) = (1, a.high, a.low)
        }
        prefixLength = destination.prefixLength
        self.metric = metric
    }

    init(_ key: RouteKey) { self.init(key.destination, metric: key.metric) }

    static func < (a: Self, b: Self) -> Bool {
        (a.family, a.high, a.low, a.prefixLength, a.metric) < (b.family, b.high, b.low, b.prefixLength, b.metric)
    }
}
