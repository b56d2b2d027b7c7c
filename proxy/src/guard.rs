//! The SSRF guard: which destination addresses a tool may never reach unless its rule names
//! the range. IPv4-mapped, IPv4-compatible and NAT64 IPv6 forms are judged by the IPv4
//! address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Loopback,
    Unspecified,
    Multicast,
    Broadcast,
    Private,
    SharedAddressSpace,
    LinkLocal,
    UniqueLocal,
    Reserved,
}

impl Blocked {
    pub fn as_str(self) -> &'static str {
        match self {
            Blocked::Loopback => "loopback",
            Blocked::Unspecified => "unspecified",
            Blocked::Multicast => "multicast",
            Blocked::Broadcast => "broadcast",
            Blocked::Private => "private (RFC 1918)",
            Blocked::SharedAddressSpace => "shared address space (CGNAT)",
            Blocked::LinkLocal => "link-local (includes cloud metadata)",
            Blocked::UniqueLocal => "unique local IPv6",
            Blocked::Reserved => "reserved",
        }
    }
}

/// `Err` if `ip` is in a refused range that none of `allowed` covers.
pub fn check(ip: IpAddr, allowed: &[IpNet]) -> Result<(), Blocked> {
    match classify(ip) {
        None => Ok(()),
        Some(_)
            if allowed.iter().any(|net| {
                net.contains(&ip) || embedded_v4(ip).is_some_and(|v4| net.contains(&IpAddr::V4(v4)))
            }) =>
        {
            Ok(())
        }
        Some(blocked) => Err(blocked),
    }
}

/// The refused class an address belongs to, if any.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(ip) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Blocked> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => Blocked::Broadcast,
        (0, _, _) => Blocked::Unspecified,
        (127, _, _) => Blocked::Loopback,
        (10, _, _) | (192, 168, _) => Blocked::Private,
        (172, 16..=31, _) => Blocked::Private,
        (100, 64..=127, _) => Blocked::SharedAddressSpace,
        (169, 254, _) => Blocked::LinkLocal,
        (224..=239, _, _) => Blocked::Multicast,
        (240..=255, _, _) | (192, 0, 0) | (198, 18..=19, _) => Blocked::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_loopback() => Blocked::Loopback,
        _ if ip.is_unspecified() => Blocked::Unspecified,
        0xff00..=0xffff => Blocked::Multicast,
        0xfe80..=0xfebf => Blocked::LinkLocal,
        0xfec0..=0xfeff => Blocked::Reserved,
        0xfc00..=0xfdff => Blocked::UniqueLocal,
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`)
/// or NAT64 (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else {
        return None;
    };
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified();
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || compatible || nat64).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn private_metadata_and_special_ranges_are_blocked() {
        for (addr, class) in [
            ("127.0.0.1", Blocked::Loopback),
            ("0.0.0.0", Blocked::Unspecified),
            ("10.1.2.3", Blocked::Private),
            ("172.16.0.1", Blocked::Private),
            ("172.31.255.255", Blocked::Private),
            ("192.168.1.1", Blocked::Private),
            ("100.64.0.1", Blocked::SharedAddressSpace),
            ("169.254.169.254", Blocked::LinkLocal),
            ("224.0.0.1", Blocked::Multicast),
            ("255.255.255.255", Blocked::Broadcast),
            ("::1", Blocked::Loopback),
            ("::", Blocked::Unspecified),
            ("fe80::1", Blocked::LinkLocal),
            ("fd00:ec2::254", Blocked::UniqueLocal),
            ("ff02::1", Blocked::Multicast),
            ("::ffff:169.254.169.254", Blocked::LinkLocal),
            ("::ffff:127.0.0.1", Blocked::Loopback),
            ("::10.0.0.1", Blocked::Private),
            ("64:ff9b::a9fe:a9fe", Blocked::LinkLocal),
        ] {
            assert_eq!(check(ip(addr), &[]), Err(class), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass_and_named_ranges_are_allowed() {
        for addr in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(check(ip(addr), &[]), Ok(()), "{addr}");
        }
        let allowed: Vec<IpNet> = vec!["10.20.0.0/16".parse().expect("net")];
        assert_eq!(check(ip("10.20.1.1"), &allowed), Ok(()));
        assert_eq!(check(ip("::ffff:10.20.1.1"), &allowed), Ok(()));
        assert_eq!(check(ip("10.21.0.1"), &allowed), Err(Blocked::Private));
    }
}
