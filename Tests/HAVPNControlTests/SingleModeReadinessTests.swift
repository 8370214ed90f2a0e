import HAVPNControl
import Testing

@Suite struct OpenVPNStatusTests {
    /// openvpn 2.7's status-version 2 of vpn2's non-HA server with the shoot connected (vpn2's test data
    /// shape, shortened).
    static let connected = """
        TITLE,OpenVPN 2.7.3 x86_64-alpine-linux-musl [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]
        TIME,2026-06-10 09:45:02,1781084702
        HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher
        CLIENT_LIST,vpn-shoot-client,tcp6-server:100.64.5.13:47764,,fd8f:6d53:b97a:1::1000,225040,28752,2026-06-10 09:44:49,1781084689,UNDEF,0,0,AES-256-GCM
        HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)
        ROUTING_TABLE,100.96.0.0/11,vpn-shoot-client,tcp6-server:100.64.5.13:47764,2026-06-10 09:44:51,1781084691
        GLOBAL_STATS,Max bcast/mcast queue length,1
        END

        """

    static let empty = """
        TITLE,OpenVPN 2.6.3 x86_64-pc-linux-gnu
        TIME,2026-06-10 09:45:02,1781084702
        HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher
        HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)
        GLOBAL_STATS,Max bcast/mcast queue length,0
        END

        """

    @Test func parsesTheClientsOfVersion2() {
        #expect(OpenVPNStatus.parse(Self.connected) == OpenVPNStatus(clients: ["vpn-shoot-client"]))
        #expect(OpenVPNStatus.parse(Self.empty) == OpenVPNStatus(clients: []))
    }

    @Test func parsesVersion3TabSeparated() {
        let v3 = Self.connected.replacing(",", with: "\t")
        #expect(OpenVPNStatus.parse(v3) == OpenVPNStatus(clients: ["vpn-shoot-client"]))
    }

    @Test func aHalfWrittenFileIsNoStatus() {
        let cut = String(Self.connected.prefix(Self.connected.count / 2))
        #expect(OpenVPNStatus.parse(cut) == nil)
        #expect(OpenVPNStatus.parse("") == nil)
        #expect(OpenVPNStatus.parse("END\n") == nil)
        #expect(OpenVPNStatus.parse("TITLE,x\nCLIENT_LIST,\nEND\n") == nil)
    }
}

@Suite struct SingleModeReadinessTests {
    @Test func serverIsReadyWithNoClientOrWithTheShootClient() {
        #expect(SingleModeReadiness.server(status: OpenVPNStatus(clients: []), problem: nil).isEmpty)
        #expect(SingleModeReadiness.server(status: OpenVPNStatus(clients: ["vpn-shoot-client"]), problem: nil).isEmpty)
        #expect(
            SingleModeReadiness.server(status: OpenVPNStatus(clients: ["other", "vpn-shoot-client"]), problem: nil)
                .isEmpty
        )
    }

    @Test func serverIsNotReadyWithOnlyForeignClientsOrNoFile() {
        #expect(
            SingleModeReadiness.server(status: OpenVPNStatus(clients: ["vpn-seed-client"]), problem: nil)
                == ["openvpn has 1 client(s) but no vpn-shoot-client"]
        )
        #expect(SingleModeReadiness.server(status: nil, problem: nil).count == 1)
        // A read failure wins over an older good status: the file is gone (openvpn stopped).
        #expect(
            SingleModeReadiness.server(status: OpenVPNStatus(clients: []), problem: "cannot read x")
                == ["cannot read x"]
        )
    }

    @Test func shootIsReadyOnlyWhenNoRouteWaits() {
        #expect(SingleModeReadiness.shoot(waiting: []).isEmpty)
        #expect(
            SingleModeReadiness.shoot(waiting: [
                "tun0 is absent (openvpn creates it): 1 route waits for it (10.1.0.0/16)"
            ])
                == ["routes not in place: tun0 is absent (openvpn creates it): 1 route waits for it (10.1.0.0/16)"]
        )
    }
}
