internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner

/// Runs a plan's actions in order, batching the netlink requests.
///
/// Requests queue up in one batch until something needs the kernel's answer first: a tap
/// (an ioctl, not netlink), a sysctl write, or an ifindex that is not known yet (a route to a
/// tunnel created earlier in the same batch). Then the batch is flushed: sent, and its acks
/// matched back to the actions. The kernel handles a batch's requests in order, so the plan's
/// ordering holds across a batch just as it would with one round trip per request.
final class ActionExecutor {
    private let socket: NetlinkSocket
    private let namespace: NetworkNamespace?
    private let links: LinkIndex
    private var pending: NetlinkBatch?
    /// Action index of every request in `pending`, and the actions with requests in it.
    private var owners: [Int] = []
    private var openActions: [Int] = []
    private var actions: [PlanAction] = []

    init(socket: NetlinkSocket, namespace: NetworkNamespace?, links: LinkIndex) {
        self.socket = socket
        self.namespace = namespace
        self.links = links
    }

    /// Runs `actions`, recording into `report` as it goes; throws the first failure (in plan
    /// order) after settling the batch it belongs to.
    func run(_ actions: [PlanAction], report: inout ApplyReport) throws(HAVPNError) {
        self.actions = actions
        let requestsBefore = socket.messagesSent
        let sendsBefore = socket.sendCalls
        let receivesBefore = socket.receiveCalls
        defer {
            report.applied += self.report.applied
            report.failures += self.report.failures
            report.netlinkRequests += socket.messagesSent - requestsBefore
            report.netlinkSends += socket.sendCalls - sendsBefore
            report.netlinkReceives += socket.receiveCalls - receivesBefore
        }
        for (index, action) in actions.enumerated() {
            do {
                let queued = try perform(action, index: index)
                if !queued { self.report.applied.append(action) }
            } catch {
                // A batch failure has been recorded by flush already.
                if batchFailed { throw error }
                // Otherwise this action failed on its own (tap, sysctl, unknown device); settle
                // what was queued before it, so the report is complete, then report it.
                do { try flush() } catch let earlier {
                    self.report.failures.append(ActionFailure(action: action, error: error))
                    throw earlier
                }
                self.report.failures.append(ActionFailure(action: action, error: error))
                throw error
            }
        }
        try flush()
    }

    /// Executes or queues one action; true when it has requests waiting in the batch.
    private func perform(_ action: PlanAction, index: Int) throws(HAVPNError) -> Bool {
        switch action {
        case .setSysctl(let key, _, let value):
            try flush()
            try Sysctl.write(key, value, in: namespace)
            return false
        case .createLink(let spec):
            return try createLink(spec, index: index)
        case .deleteLink(let name, _):
            links.forget(name)
            queue(index) { LinkRequests.delete(&$0, name: name) }
        case .setLink(let name, let change, _):
            try setLink(name, change, index: index)
        case .addAddress(let address):
            let ifindex = try resolve(address.device, for: action)
            queue(index) { AddressRequests.add(&$0, address, index: ifindex) }
        case .deleteAddress(let address):
            let ifindex = try resolve(address.device, for: action)
            queue(index) { AddressRequests.delete(&$0, address, index: ifindex) }
        case .addRoute(let route):
            let oif = try resolve(route.device, for: action)
            queue(index) { RouteRequests.add(&$0, route, oif: oif, replace: false) }
        case .replaceRoute(_, let route):
            let oif = try resolve(route.device, for: action)
            queue(index) { RouteRequests.add(&$0, route, oif: oif, replace: true) }
        case .deleteRoute(let route):
            let oif = try resolve(route.device, for: action)
            queue(index) { RouteRequests.delete(&$0, route, oif: oif) }
        case .setRulesetChain:
            return false  // not netlink's: the Reconciler hands rulesets to HAVPNFirewall
        }
        return true
    }

    /// Creates the link without master and down (the plan's setLink actions follow), with
    /// havpn's alias so it is recognised as havpn's later.
    private func createLink(_ spec: LinkSpec, index: Int) throws(HAVPNError) -> Bool {
        links.forget(spec.name)
        switch spec.kind {
        case .tap:
            try flush()
            // TUNSETIFF would attach to an existing tap instead of failing; refuse like netlink does.
            if try links.index(of: spec.name, socket: socket) != nil {
                throw KernelErrors.error(EEXIST, "cannot create tap link", object: "link \(spec.name)")
            }
            try TapDevice.create(name: spec.name, in: namespace)
            links.forget(spec.name)
            if let mtu = spec.mtu { queue(index) { LinkRequests.setMTU(&$0, name: spec.name, mtu: mtu) } }
        case .bond(let bond):
            var primaryIndex: Int32?
            if let primary = bond.primary {
                primaryIndex = try resolve(primary, for: .createLink(spec), why: "the bond's primary")
            }
            queue(index) {
                LinkRequests.createBond(&$0, name: spec.name, bond: bond, primaryIndex: primaryIndex, mtu: spec.mtu)
            }
        case .ip6tnl(let tunnel):
            queue(index) { LinkRequests.createTunnel(&$0, name: spec.name, tunnel: tunnel, mtu: spec.mtu) }
        case .other(let kind):
            throw HAVPNError(.kernel, "havpn cannot create \(kind) links", object: "link \(spec.name)")
        }
        queue(index) { LinkRequests.setAlias(&$0, name: spec.name, alias: havpnLinkAlias) }
        return true
    }

    private func setLink(_ name: String, _ change: LinkChange, index: Int) throws(HAVPNError) {
        let action = actions[index]
        switch change {
        case .master(let master?):
            let masterIndex = try resolve(master, for: action, why: "the master")
            // bond_enslave refuses an up slave (EPERM, "Device can not be enslaved while up")
            // and opens the slave itself, so take it down first: it comes back up enslaved.
            queue(index) { LinkRequests.setUp(&$0, name: name, up: false) }
            queue(index) { LinkRequests.setMaster(&$0, name: name, masterIndex: masterIndex) }
        case .master(nil):
            queue(index) { LinkRequests.setMaster(&$0, name: name, masterIndex: 0) }
        case .up(let up):
            queue(index) { LinkRequests.setUp(&$0, name: name, up: up) }
        case .mtu(let mtu):
            queue(index) { LinkRequests.setMTU(&$0, name: name, mtu: mtu) }
        case .bondMiimon(let value):
            queue(index) { LinkRequests.setBondOption(&$0, name: name, .miimon(value)) }
        case .bondUseCarrier(let value):
            queue(index) { LinkRequests.setBondOption(&$0, name: name, .useCarrier(value)) }
        case .bondNumPeerNotif(let value):
            queue(index) { LinkRequests.setBondOption(&$0, name: name, .numPeerNotif(value)) }
        case .bondPrimary(let primary?):
            let primaryIndex = try resolve(primary, for: action, why: "the bond's primary")
            queue(index) { LinkRequests.setBondOption(&$0, name: name, .primaryIndex(primaryIndex)) }
        case .bondPrimary(nil):
            // IFLA_BOND_PRIMARY is an ifindex and 0 is rejected: netlink cannot clear it.
            throw HAVPNError(
                .kernel,
                "a bond's primary cannot be cleared over netlink; recreate the bond",
                object: "link \(name)"
            )
        case .tunnelEndpoints(let tunnel):
            queue(index) { LinkRequests.setTunnelEndpoints(&$0, name: name, tunnel: tunnel) }
        case .adopt:
            queue(index) { LinkRequests.setAlias(&$0, name: name, alias: havpnLinkAlias) }
        }
    }

    private func queue(_ index: Int, _ build: (inout NetlinkBatch) -> Void) {
        var batch = pending ?? socket.makeBatch()
        build(&batch)
        while owners.count < batch.count { owners.append(index) }
        if openActions.last != index { openActions.append(index) }
        pending = batch
    }

    /// The ifindex of `name`; flushes first when it is unknown, since the batch may create it.
    private func resolve(_ name: String, for action: PlanAction, why: String = "the device") throws(HAVPNError)
        -> Int32
    {
        if let known = links.cachedIndex(of: name) { return known }
        try flush()
        if let index = try links.index(of: name, socket: socket) { return index }
        throw HAVPNError(
            .kernel,
            "\(why) \(name) does not exist",
            object: action.kernelObject,
            errno: ENODEV,
            errnoText: KernelErrors.text(ENODEV)
        )
    }

    private var report = ApplyReport()
    private var batchFailed = false

    /// Sends the pending batch and settles its actions into the report.
    private func flush() throws(HAVPNError) {
        guard let batch = pending else { return }
        pending = nil
        let batchOwners = owners
        let batchActions = openActions
        owners = []
        openActions = []
        let acks: [NetlinkAcknowledgement]
        do {
            acks = try socket.execute(batch)
        } catch {
            // The transport failed: none of the batch's outcomes are known.
            for index in batchActions { report.failures.append(ActionFailure(action: actions[index], error: error)) }
            batchFailed = true
            throw error
        }
        var failed: [Int: HAVPNError] = [:]
        for (message, ack) in acks.enumerated() where ack.errno != 0 {
            let owner = batchOwners[message]
            if failed[owner] == nil { failed[owner] = error(for: actions[owner], ack) }
        }
        for index in batchActions {
            if let failure = failed[index] {
                report.failures.append(ActionFailure(action: actions[index], error: failure))
            } else {
                report.applied.append(actions[index])
            }
        }
        if let first = batchActions.first(where: { failed[$0] != nil }), let error = failed[first] {
            batchFailed = true
            throw error
        }
    }

    private func error(for action: PlanAction, _ ack: NetlinkAcknowledgement) -> HAVPNError {
        let object = action.kernelObject
        switch action {
        case .createLink(let spec):
            return KernelErrors.linkCreation(
                ack.errno,
                kind: spec.kind.kindName,
                object: object,
                kernelMessage: ack.kernelMessage
            )
        case .deleteLink:
            return KernelErrors.error(ack.errno, "cannot delete link", object: object, kernelMessage: ack.kernelMessage)
        case .setLink(_, let change, _):
            return KernelErrors.error(
                ack.errno,
                "cannot change link (\(change))",
                object: object,
                kernelMessage: ack.kernelMessage
            )
        case .addAddress:
            return KernelErrors.error(ack.errno, "cannot add address", object: object, kernelMessage: ack.kernelMessage)
        case .deleteAddress:
            return KernelErrors.error(
                ack.errno,
                "cannot delete address",
                object: object,
                kernelMessage: ack.kernelMessage
            )
        case .addRoute:
            return KernelErrors.error(ack.errno, "cannot add route", object: object, kernelMessage: ack.kernelMessage)
        case .replaceRoute:
            return KernelErrors.error(
                ack.errno,
                "cannot replace route",
                object: object,
                kernelMessage: ack.kernelMessage
            )
        case .deleteRoute:
            return KernelErrors.error(
                ack.errno,
                "cannot delete route",
                object: object,
                kernelMessage: ack.kernelMessage
            )
        case .setSysctl:
            return KernelErrors.error(
                ack.errno,
                "cannot write sysctl",
                object: object,
                kernelMessage: ack.kernelMessage
            )
        case .setRulesetChain:
            return KernelErrors.error(
                ack.errno,
                "cannot change ruleset",
                object: object,
                kernelMessage: ack.kernelMessage
            )
        }
    }
}
