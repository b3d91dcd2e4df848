//! Port leases: `ports = N` gives each running session N ports no other live session holds
//! (recorded in the database: one row per port, so two processes cannot lease the same one)
//! and that nothing listens on (checked by binding them).

use std::net::{Ipv4Addr, TcpListener};

use crate::{
    model::SessionId,
    store::{Store, StoreError},
};

/// The ports lulu leases from: below Linux's ephemeral range (32768+), so an outgoing
/// connection is never given one of them meanwhile.
pub const PORT_RANGE: std::ops::RangeInclusive<u16> = 20_000..=32_000;

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not lease {wanted} free ports between {} and {} (found {found})", PORT_RANGE.start(), PORT_RANGE.end())]
    Exhausted { wanted: u32, found: usize },
}

/// Leases `count` free ports to this run of the session, returning them in order.
pub fn lease_ports(
    store: &mut Store,
    id: &SessionId,
    run: i64,
    count: u32,
) -> Result<Vec<u16>, LeaseError> {
    store.release_stale_ports()?;
    let span = u32::from(PORT_RANGE.end() - PORT_RANGE.start()) + 1;
    // Sessions start at different places in the range, so concurrent runners rarely race for
    // the same port (and the database settles it when they do).
    let start = id.as_str().bytes().fold(0_u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    }) % span;
    let mut leased = Vec::new();
    for offset in 0..span {
        if leased.len() as u32 == count {
            break;
        }
        let port = PORT_RANGE.start()
            + u16::try_from((start + offset) % span).expect("the range fits in u16");
        if !is_free(port) {
            continue;
        }
        if store.try_lease_port(id, run, port)? {
            leased.push(port);
        }
    }
    if (leased.len() as u32) < count {
        store.release_ports(id)?;
        return Err(LeaseError::Exhausted {
            wanted: count,
            found: leased.len(),
        });
    }
    Ok(leased)
}

/// Whether nothing listens on `port` (on any address or on loopback).
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
        && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The environment a run's setup and agent get for its ports.
pub fn port_env(ports: &[u16]) -> Vec<(String, String)> {
    match ports.first() {
        None => Vec::new(),
        Some(first) => vec![
            ("LULU_PORT".to_owned(), first.to_string()),
            (
                "LULU_PORTS".to_owned(),
                ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ],
    }
}
