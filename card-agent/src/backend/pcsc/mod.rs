//! Cards in PC/SC readers (the `pcsc` crate over pcsc-lite: `libpcsclite-dev` to build, `pcscd`
//! to run): CPS3/CPS4 (IAS-ECC) and carte Vitale.
//!
//! - Card kind: CPS by ATR (the patterns of the reference CPS drivers, which also tell a CPS3
//!   from a CPS4, driven differently: see `cps.rs`), Vitale by its AID, anything else unknown.
//! - The CPS's PKCS#15 structure is read once per connection (see `pkcs15.rs`).
//! - One shared PC/SC connection per reader is kept, so the PIN verified by
//!   [`CardBackend::verify_pin`] stays valid for the following [`CardBackend::sign`] calls.
//! - Transient errors (`SCARD_W_RESET_CARD`, `SCARD_E_SHARING_VIOLATION`, an unpowered or
//!   unresponsive card) are recovered here, once, after a reconnection to the same card (same
//!   serial). A reset loses the card's security state: `verify_pin` presents its PIN again
//!   (the card had not judged it: PC/SC refuses the exchange on a reset handle), and `sign`
//!   re-presents the PIN given by the [`PinSource`] for that serial (the agent core's PIN
//!   cache, handed over by [`CardBackend::use_pin_source`] when the agent is created), once.
//!   A refusal is returned as is, never retried, and reported to the source
//!   ([`PinSource::pin_refused`]). Without a `PinSource` (or no PIN cached for
//!   that serial), `sign` returns [`CardError::Transient`]. The recovery rule as a whole is
//!   written in [`crate::agent`].
//! - A card removed gives [`CardError::CardRemoved`]; a reader gone gives
//!   [`CardError::ReaderRemoved`].
//! - [`PcscBackend::watch`] streams insertions and removals (`SCardGetStatusChange`); the
//!   agent is woken by them through [`CardBackend::changes`].
//!
//! No PIN and no patient datum is logged; card serials are.

mod apdu;
mod cps;
mod pkcs15;
mod vitale;

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use pcsc::{Context, Disposition, Protocols, Scope, ShareMode};
use zeroize::Zeroizing;

use super::{CardBackend, CardData, CardError, CardKind, KeyUse, ReaderState};
use apdu::map_pcsc;

pub use super::PinSource;

/// What [`PcscBackend::watch`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardEventKind {
    Inserted,
    Removed,
    ReaderAdded,
    ReaderRemoved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardEvent {
    pub kind: CardEventKind,
    pub reader: String,
    /// Not identified here: reading the card from the watching thread could interleave its
    /// commands with an operation in progress on another connection (a SELECT between a
    /// SELECT and its READ BINARY); [`CardBackend::readers`] identifies cards.
    pub card: Option<CardKind>,
    pub card_serial: Option<String>,
}

struct Conn {
    card: pcsc::Card,
    kind: CardKind,
    serial: Option<String>,
    /// For a CPS: its generation, which decides how it is driven.
    generation: Option<cps::Generation>,
    /// The CPS's PKCS#15 structure, read once per connection (the card is the same one for
    /// the connection's life: `recover` checks the serial after a reconnection).
    pkcs15: OnceLock<pkcs15::Pkcs15>,
}

impl Conn {
    /// The CPS behind this connection, or [`CardError::NotACps`].
    fn cps<'a>(&'a self, reader: &'a str) -> Result<(apdu::Link<'a>, cps::Generation), CardError> {
        match (self.kind, self.generation) {
            (CardKind::Cps, Some(g)) => Ok((cps::link(&self.card, reader, g), g)),
            _ => Err(CardError::NotACps(reader.to_owned())),
        }
    }

    fn pkcs15(&self, link: &apdu::Link<'_>) -> Result<&pkcs15::Pkcs15, CardError> {
        if let Some(p) = self.pkcs15.get() {
            return Ok(p);
        }
        let read = pkcs15::read(link)?;
        Ok(self.pkcs15.get_or_init(|| read))
    }
}

struct Inner {
    ctx: Context,
    conns: Mutex<HashMap<String, Conn>>,
    /// Set at construction ([`PcscBackend::with_pin_source`]) or by the agent
    /// ([`CardBackend::use_pin_source`]), once.
    pin_source: OnceLock<Arc<dyn PinSource>>,
}

/// The PC/SC backend.
#[derive(Clone)]
pub struct PcscBackend {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn cstr(reader: &str) -> Result<CString, CardError> {
    CString::new(reader).map_err(|_| CardError::NoSuchReader(reader.to_owned()))
}

fn connect_err(e: pcsc::Error, reader: &str) -> CardError {
    match e {
        pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => CardError::NoCard(reader.to_owned()),
        pcsc::Error::UnknownReader => CardError::NoSuchReader(reader.to_owned()),
        e => map_pcsc(e, reader),
    }
}

/// What [`identify`] tells of a card: kind, serial, CPS generation.
type Identity = (CardKind, Option<String>, Option<cps::Generation>);

/// Kind, serial and (CPS) generation of the card behind `card`; a CPS is made ready to use
/// (see [`cps::open`]).
fn identify(card: &pcsc::Card, reader: &str) -> Result<Identity, CardError> {
    let status = card.status2_owned().map_err(|e| map_pcsc(e, reader))?;
    if let Some(generation) = cps::generation(status.atr()) {
        let serial = cps::open(&cps::link(card, reader, generation), generation)?;
        return Ok((CardKind::Cps, serial, Some(generation)));
    }
    if vitale::is_vitale(card, reader)? {
        return Ok((CardKind::Vitale, None, None));
    }
    Ok((CardKind::Unknown, None, None))
}

impl PcscBackend {
    /// Establishes a PC/SC context (fails when pcscd is not running).
    pub fn new() -> Result<Self, CardError> {
        Self::build(None)
    }

    /// Same, with the PIN cache used to recover a signature after a card reset (the agent
    /// hands its own over through [`CardBackend::use_pin_source`] instead).
    pub fn with_pin_source(pin_source: Arc<dyn PinSource>) -> Result<Self, CardError> {
        Self::build(Some(pin_source))
    }

    fn build(pin_source: Option<Arc<dyn PinSource>>) -> Result<Self, CardError> {
        let ctx = Context::establish(Scope::User).map_err(|e| {
            CardError::Device(format!("PC/SC unavailable (is pcscd running?): {e}"))
        })?;
        let cell = OnceLock::new();
        if let Some(source) = pin_source {
            let _ = cell.set(source);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                ctx,
                conns: Mutex::new(HashMap::new()),
                pin_source: cell,
            }),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, CardError> + Send + 'static,
    ) -> Result<T, CardError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| CardError::Device(format!("card task failed: {e}")))?
    }

    /// Drops the connection to `reader` and connects again (after a transient error, or to
    /// pick up a card changed behind our back). Returns what is in the reader now.
    pub async fn reconnect(&self, reader: &str) -> Result<ReaderState, CardError> {
        let reader = reader.to_owned();
        self.blocking(move |inner| {
            if let Some(c) = lock(&inner.conns).remove(&reader) {
                let _ = c.card.disconnect(Disposition::LeaveCard);
            }
            inner.state(&reader)
        })
        .await
    }

    /// Tries left on the CPS PIN in `reader`, without presenting a PIN; None when the PIN is
    /// already verified.
    pub async fn pin_tries_left(&self, reader: &str) -> Result<Option<u8>, CardError> {
        let reader = reader.to_owned();
        self.blocking(move |inner| {
            inner.with_card(&reader, true, |c| {
                let (link, generation) = c.cps(&reader)?;
                cps::tries_left(&link, generation, c.pkcs15(&link)?.user_pin()?)
            })
        })
        .await
    }

    /// Insertions, removals and readers coming and going, from a thread of its own with its
    /// own PC/SC context. Cards already present are reported as `Inserted` first. The thread
    /// ends when the receiver is dropped.
    pub fn watch(&self) -> Result<tokio::sync::mpsc::UnboundedReceiver<CardEvent>, CardError> {
        let ctx = Context::establish(Scope::User).map_err(|e| {
            CardError::Device(format!("PC/SC unavailable (is pcscd running?): {e}"))
        })?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("pcsc-watch".into())
            .spawn(move || watch_loop(&ctx, &tx))
            .map_err(|e| CardError::Device(e.to_string()))?;
        Ok(rx)
    }
}

impl Inner {
    /// Runs `op` on the connection to `reader` (connected on demand). A transient error
    /// reconnects and runs `op` once more; with `retry_removed`, so does a stale connection
    /// whose card was removed (for operations that need no PIN).
    fn with_card<T>(
        &self,
        reader: &str,
        retry_removed: bool,
        op: impl Fn(&Conn) -> Result<T, CardError>,
    ) -> Result<T, CardError> {
        let mut conns = lock(&self.conns);
        if !conns.contains_key(reader) {
            conns.insert(reader.to_owned(), self.connect(reader)?);
        }
        let first = match conns.get(reader) {
            Some(c) => op(c),
            None => return Err(CardError::NoCard(reader.to_owned())),
        };
        match first {
            Err(CardError::Transient(why)) => {
                tracing::info!(reader, %why, "transient card error: reconnecting and retrying once");
                self.recover(&mut conns, reader)?;
                conns
                    .get(reader)
                    .map_or_else(|| Err(CardError::NoCard(reader.to_owned())), op)
            }
            Err(CardError::CardRemoved) if retry_removed => {
                conns.remove(reader);
                let c = self.connect(reader)?;
                let r = op(&c);
                conns.insert(reader.to_owned(), c);
                r
            }
            Err(CardError::CardRemoved) => {
                conns.remove(reader);
                Err(CardError::CardRemoved)
            }
            other => other,
        }
    }

    /// Reconnects after a transient error; the card must be the same one (same serial).
    fn recover(&self, conns: &mut HashMap<String, Conn>, reader: &str) -> Result<(), CardError> {
        let Some(c) = conns.get_mut(reader) else {
            return Err(CardError::NoCard(reader.to_owned()));
        };
        let before = c.serial.clone();
        let mut reconnected = Err(CardError::Transient("not tried".into()));
        for attempt in 0..5 {
            reconnected = c
                .card
                .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
                .map_err(|e| map_pcsc(e, reader));
            match &reconnected {
                // Sharing violation: another application holds the card for a moment.
                Err(CardError::Transient(_)) => {
                    std::thread::sleep(Duration::from_millis(100 * (attempt + 1)))
                }
                _ => break,
            }
        }
        if let Err(e) = reconnected {
            conns.remove(reader);
            return Err(e);
        }
        let (kind, serial, generation) = identify(&c.card, reader)?;
        if serial != before || kind != c.kind || generation != c.generation {
            conns.remove(reader);
            return Err(CardError::CardRemoved);
        }
        Ok(())
    }

    fn connect(&self, reader: &str) -> Result<Conn, CardError> {
        let name = cstr(reader)?;
        let mut last = CardError::NoCard(reader.to_owned());
        for attempt in 0..3u64 {
            match self.ctx.connect(&name, ShareMode::Shared, Protocols::ANY) {
                Ok(card) => {
                    let (kind, serial, generation) = identify(&card, reader)?;
                    tracing::debug!(
                        reader,
                        ?kind,
                        serial = serial.as_deref().unwrap_or("-"),
                        "card connected"
                    );
                    return Ok(Conn {
                        card,
                        kind,
                        serial,
                        generation,
                        pkcs15: OnceLock::new(),
                    });
                }
                Err(e) => {
                    last = connect_err(e, reader);
                    if !last.is_transient() {
                        return Err(last);
                    }
                    std::thread::sleep(Duration::from_millis(100 * (attempt + 1)));
                }
            }
        }
        Err(last)
    }

    fn state(&self, reader: &str) -> Result<ReaderState, CardError> {
        // The kept connection may outlive its card: ask PC/SC whether the card is still there
        // (a removed card fails the status on that handle), so a removal is seen.
        let still_there = |c: &Conn| match c.card.status2_owned() {
            Ok(s) if s.status().contains(pcsc::Status::PRESENT) => {
                Ok((c.kind, c.serial.clone(), c.generation))
            }
            Ok(_) => Err(CardError::CardRemoved),
            Err(e) => Err(map_pcsc(e, reader)),
        };
        match self.with_card(reader, true, still_there) {
            Ok((kind, serial, generation)) => Ok(ReaderState {
                name: reader.to_owned(),
                card: Some(kind),
                card_serial: serial,
                model: generation.map(|g| match g {
                    cps::Generation::Cps3 => "CPS3",
                    cps::Generation::Cps4 => "CPS4",
                }),
            }),
            Err(CardError::NoCard(_)) | Err(CardError::CardRemoved) => {
                lock(&self.conns).remove(reader);
                Ok(ReaderState {
                    name: reader.to_owned(),
                    card: None,
                    card_serial: None,
                    model: None,
                })
            }
            Err(e) => Err(e),
        }
    }

    fn readers(&self) -> Result<Vec<String>, CardError> {
        match self.ctx.list_readers_owned() {
            Ok(r) => Ok(r
                .into_iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect()),
            Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(CardError::Device(e.to_string())),
        }
    }

    fn check_reader(&self, reader: &str) -> Result<(), CardError> {
        if self.readers()?.iter().any(|r| r == reader) {
            Ok(())
        } else {
            lock(&self.conns).remove(reader);
            Err(CardError::NoSuchReader(reader.to_owned()))
        }
    }

    fn sign(
        &self,
        reader: &str,
        key: KeyUse,
        digest: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CardError> {
        let mut conns = lock(&self.conns);
        if !conns.contains_key(reader) {
            conns.insert(reader.to_owned(), self.connect(reader)?);
        }
        let run = |c: &Conn| -> Result<(Vec<u8>, Vec<u8>), CardError> {
            let (link, generation) = c.cps(reader)?;
            cps::sign(&link, generation, c.pkcs15(&link)?, key, digest)
        };
        let first = match conns.get(reader) {
            Some(c) => run(c),
            None => return Err(CardError::NoCard(reader.to_owned())),
        };
        match first {
            Err(CardError::Transient(why)) => {
                tracing::info!(reader, %why, "transient card error while signing: reconnecting");
                self.recover(&mut conns, reader)?;
                let Some(c) = conns.get(reader) else {
                    return Err(CardError::NoCard(reader.to_owned()));
                };
                let serial = c.serial.clone().unwrap_or_default();
                // The reset cleared the card's security state: re-present the cached PIN of
                // this very card (same serial, checked by `recover`), once.
                let pin = self.pin_source.get().and_then(|s| s.cached_pin(&serial));
                let Some(pin) = pin else {
                    return Err(CardError::Transient(format!(
                        "card {serial} was reset: its PIN must be presented again"
                    )));
                };
                let (link, generation) = c.cps(reader)?;
                let p15 = c.pkcs15(&link)?;
                if cps::tries_left(&link, generation, p15.user_pin()?)?.is_some() {
                    tracing::info!(reader, card_serial = %serial, "re-presenting the cached PIN after a reset");
                    let verified = cps::verify(&link, generation, p15, &pin);
                    if let Err(CardError::WrongPin { .. } | CardError::Blocked) = &verified
                        && let Some(source) = self.pin_source.get()
                    {
                        source.pin_refused(&serial);
                    }
                    verified?;
                }
                run(c)
            }
            Err(CardError::CardRemoved) => {
                conns.remove(reader);
                Err(CardError::CardRemoved)
            }
            other => other,
        }
    }
}

#[async_trait]
impl CardBackend for PcscBackend {
    /// Keeps `source` unless a PIN source was given at construction; either way this backend
    /// recovers transient errors itself (see the module doc).
    fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<()>> {
        let mut events = match self.watch() {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the card readers: polling only");
                return None;
            }
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // The agent is gone: dropping `events` stops the watching thread.
                    () = tx.closed() => break,
                    event = events.recv() => {
                        let Some(event) = event else { break };
                        tracing::debug!(kind = ?event.kind, reader = %event.reader, "PC/SC change");
                        if tx.send(()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Some(rx)
    }

    fn use_pin_source(&self, source: Arc<dyn PinSource>) -> bool {
        if self.inner.pin_source.set(source).is_err() {
            tracing::warn!("PC/SC backend built with its own PIN source: the agent's is not used");
        }
        true
    }

    async fn readers(&self) -> Result<Vec<ReaderState>, CardError> {
        self.blocking(|inner| inner.readers()?.iter().map(|r| inner.state(r)).collect())
            .await
    }

    async fn read(&self, reader: &str) -> Result<CardData, CardError> {
        let reader = reader.to_owned();
        self.blocking(move |inner| {
            inner.check_reader(&reader)?;
            inner.with_card(&reader, true, |c| match c.kind {
                CardKind::Cps => {
                    let (link, _) = c.cps(&reader)?;
                    let serial = c
                        .serial
                        .as_deref()
                        .ok_or_else(|| CardError::NotACps(reader.clone()))?;
                    cps::read(&link, c.pkcs15(&link)?, serial).map(CardData::Cps)
                }
                CardKind::Vitale => vitale::read(&c.card, &reader).map(CardData::Vitale),
                CardKind::Unknown => Err(CardError::UnknownCard(reader.clone())),
            })
        })
        .await
    }

    async fn verify_pin(&self, reader: &str, pin: &Zeroizing<String>) -> Result<(), CardError> {
        let reader = reader.to_owned();
        let pin = pin.clone();
        self.blocking(move |inner| {
            inner.check_reader(&reader)?;
            // A transient error is detected before the VERIFY reaches the card (PC/SC refuses
            // the exchange on a reset handle), so the one retry re-presents a PIN the card has
            // not judged; a refusal (63Cx, 6983) is returned as is, never retried.
            inner.with_card(&reader, false, |c| {
                let (link, generation) = c.cps(&reader)?;
                cps::verify(&link, generation, c.pkcs15(&link)?, &pin)
            })
        })
        .await
    }

    async fn sign(
        &self,
        reader: &str,
        key: KeyUse,
        digest: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CardError> {
        if digest.len() != 32 {
            return Err(CardError::BadDigest(digest.len()));
        }
        let reader = reader.to_owned();
        let digest = digest.to_vec();
        self.blocking(move |inner| {
            inner.check_reader(&reader)?;
            inner.sign(&reader, key, &digest)
        })
        .await
    }
}

const PNP: &str = "\\\\?PnP?\\Notification";

fn watch_loop(ctx: &Context, tx: &tokio::sync::mpsc::UnboundedSender<CardEvent>) {
    let send = |kind, reader: &str, card, card_serial| {
        tx.send(CardEvent {
            kind,
            reader: reader.to_owned(),
            card,
            card_serial,
        })
        .is_ok()
    };
    let Ok(pnp) = CString::new(PNP) else { return };
    let mut states: Vec<pcsc::ReaderState> =
        vec![pcsc::ReaderState::new(pnp, pcsc::State::UNAWARE)];
    let mut first = true;
    loop {
        if tx.is_closed() {
            return;
        }
        // Sync the reader list.
        let names: Vec<CString> = ctx.list_readers_owned().unwrap_or_default();
        let mut i = 1;
        while i < states.len() {
            if names.iter().any(|n| n.as_c_str() == states[i].name()) {
                i += 1;
            } else {
                let gone = states.remove(i);
                let name = gone.name().to_string_lossy().into_owned();
                if gone.event_state().contains(pcsc::State::PRESENT)
                    && !send(CardEventKind::Removed, &name, None, None)
                {
                    return;
                }
                if !send(CardEventKind::ReaderRemoved, &name, None, None) {
                    return;
                }
            }
        }
        for n in names {
            if !states.iter().any(|s| s.name() == n.as_c_str()) {
                if !first && !send(CardEventKind::ReaderAdded, &n.to_string_lossy(), None, None) {
                    return;
                }
                states.push(pcsc::ReaderState::new(n, pcsc::State::UNAWARE));
            }
        }
        for s in &mut states {
            s.sync_current_state();
        }
        match ctx.get_status_change(Duration::from_millis(500), &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::UnknownReader) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "card watch: PC/SC error, retrying in 1 s");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        }
        first = false;
        for s in states.iter().skip(1) {
            let (was, now) = (s.current_state(), s.event_state());
            if !now.contains(pcsc::State::CHANGED) {
                continue;
            }
            let name = s.name().to_string_lossy().into_owned();
            let was_present = was.contains(pcsc::State::PRESENT);
            let is_present = now.contains(pcsc::State::PRESENT);
            if is_present && !was_present {
                if !send(CardEventKind::Inserted, &name, None, None) {
                    return;
                }
            } else if was_present && !is_present && !send(CardEventKind::Removed, &name, None, None)
            {
                return;
            }
        }
    }
}
