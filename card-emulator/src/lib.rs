//! Smart cards for tests, seen by the real PC/SC stack: the emulator connects to the vpcd
//! driver of `pcscd` (Debian `vsmartcard-vpcd`) over TCP, so a PC/SC client (the card-agent)
//! finds a card in the reader "Virtual PCD 00 00" (port 35963 by default) or "… 00 01"
//! (35964).
//!
//! vpcd wire format: each message is a 2-byte big-endian length then the payload. One-byte
//! payloads are control: 0 power off, 1 power on, 2 reset, 4 get ATR (answered with the ATR).
//! Anything else is a command APDU, answered with the response APDU.
//!
//! Cards: [`cps::CpsCard`], a CPS3 (IAS-ECC) or a CPS4 (ChipDoc), each answering the APDUs the
//! ANS reference driver (Cryptolib CPS, `card-cps3.c` / `card-cps4.c`) sends it; the data the
//! reference reads from the card rather than fixing (file ids, PIN references, AODF, CPS3 key
//! references, holder and situation files) is this project's convention, detailed in
//! [`cps`]. Also [`vitale::VitaleCard`] and an unknown card.
//! [`Emulator::remove`] closes the connection (pcscd sees the card removed),
//! [`Emulator::insert`] connects again; [`Emulator::remove_on_next_signature`] removes the card
//! when the next private-key command arrives, before answering it; [`Emulator::change_pin`]
//! changes the CPS's PIN behind the agent's back.

pub mod apdu;
pub mod cps;
pub mod fs;
pub mod vitale;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use apdu::{Command, SW_CLA_NOT_SUPPORTED, SW_INS_NOT_SUPPORTED, status};

pub const DEFAULT_PORT: u16 = 35963;

/// An ATR that no Passerelle reader knows (a generic JavaCard).
pub const UNKNOWN_ATR: [u8; 11] = [
    0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot reach vpcd on 127.0.0.1:{port}: {source}")]
    Connect { port: u16, source: io::Error },
    #[error("emulator thread: {0}")]
    Thread(String),
}

/// The card in the emulated slot.
pub enum Card {
    Cps(Box<cps::CpsCard>),
    Vitale(vitale::VitaleCard),
    Unknown,
}

impl Card {
    pub fn atr(&self) -> Vec<u8> {
        match self {
            Card::Cps(c) => c.atr().to_vec(),
            Card::Vitale(_) => vitale::VITALE_ATR.to_vec(),
            Card::Unknown => UNKNOWN_ATR.to_vec(),
        }
    }

    pub fn reset(&mut self) {
        match self {
            Card::Cps(c) => c.reset(),
            Card::Vitale(v) => v.reset(),
            Card::Unknown => {}
        }
    }

    pub fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        let Some(cmd) = Command::parse(raw) else {
            return status(apdu::SW_WRONG_LENGTH);
        };
        match self {
            // Each CPS generation checks CLA itself (a CPS4 uses logical channels).
            Card::Cps(c) => c.process(&cmd),
            // Logical channels are not emulated on the other cards.
            _ if cmd.cla & 0xFC != 0 => status(SW_CLA_NOT_SUPPORTED),
            Card::Vitale(v) => v.process(&cmd),
            Card::Unknown => status(SW_INS_NOT_SUPPORTED),
        }
    }
}

struct Shared {
    card: Mutex<Card>,
    /// Whether the card is in the reader (the emulator keeps a vpcd connection).
    present: Mutex<bool>,
    present_changed: Condvar,
    stream: Mutex<Option<TcpStream>>,
    remove_on_signature: AtomicBool,
    stop: AtomicBool,
    /// Connections made to vpcd so far (each insertion is one).
    connections: AtomicUsize,
    port: u16,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running emulator: one card in one vpcd slot.
pub struct Emulator {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Inserts `card` into the vpcd slot listening on `port` (35963 for the first reader).
    /// Keeps trying to connect until vpcd listens.
    pub fn start(card: Card, port: u16) -> Result<Self, EmulatorError> {
        let shared = Arc::new(Shared {
            card: Mutex::new(card),
            present: Mutex::new(true),
            present_changed: Condvar::new(),
            stream: Mutex::new(None),
            remove_on_signature: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            port,
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("card-emulator-{port}"))
            .spawn(move || run(&s))
            .map_err(|e| EmulatorError::Thread(e.to_string()))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Removes the card: closes the vpcd connection, so pcscd reports the card absent.
    pub fn remove(&self) {
        *lock(&self.shared.present) = false;
        if let Some(s) = lock(&self.shared.stream).take() {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.shared.present_changed.notify_all();
    }

    /// Inserts the card again (same card, same PIN counter).
    pub fn insert(&self) {
        *lock(&self.shared.present) = true;
        self.shared.present_changed.notify_all();
    }

    /// The next private-key command (PSO CDS, INTERNAL AUTHENTICATE, or the last part of a
    /// CPS4 PSO DECIPHER) removes the card instead of being answered: "card pulled out while
    /// signing".
    pub fn remove_on_next_signature(&self) {
        self.shared
            .remove_on_signature
            .store(true, Ordering::SeqCst);
    }

    /// Changes the PIN of the emulated CPS (as the holder would with another tool); false when
    /// the card is not a CPS.
    pub fn change_pin(&self, pin: &str) -> bool {
        match &mut *lock(&self.shared.card) {
            Card::Cps(c) => {
                c.set_pin(zeroize::Zeroizing::new(pin.to_owned()));
                true
            }
            _ => false,
        }
    }

    /// Tries left on the emulated CPS PIN, if the card is a CPS.
    pub fn tries_left(&self) -> Option<u8> {
        match &*lock(&self.shared.card) {
            Card::Cps(c) => Some(c.tries_left()),
            _ => None,
        }
    }

    /// Whether the emulator is connected to vpcd (the card is seen in the reader).
    pub fn is_connected(&self) -> bool {
        lock(&self.shared.stream).is_some()
    }

    /// How many times the emulator connected to vpcd.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.remove();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        {
            let mut present = lock(&shared.present);
            while !*present && !shared.stop.load(Ordering::SeqCst) {
                present = shared
                    .present_changed
                    .wait_timeout(present, Duration::from_millis(200))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        }
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match TcpStream::connect(("127.0.0.1", shared.port)) {
            Ok(s) => s,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match stream.try_clone() {
            Ok(s) => *lock(&shared.stream) = Some(s),
            Err(_) => continue,
        }
        shared.connections.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(port = shared.port, "card inserted (connected to vpcd)");
        if let Err(e) = serve(shared, stream) {
            tracing::debug!(port = shared.port, error = %e, "vpcd connection ended");
        }
        lock(&shared.stream).take();
        lock(&shared.card).reset();
    }
}

fn serve(shared: &Shared, mut stream: TcpStream) -> io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len)?;
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut msg)?;
        let answer = if msg.len() == 1 {
            let mut card = lock(&shared.card);
            match msg[0] {
                0..=2 => {
                    card.reset();
                    None
                }
                4 => Some(card.atr()),
                _ => None,
            }
        } else {
            if cps::CpsCard::is_signature(&msg)
                && shared.remove_on_signature.swap(false, Ordering::SeqCst)
            {
                // Pulled out mid-operation: no answer, the connection drops.
                *lock(&shared.present) = false;
                let _ = stream.shutdown(Shutdown::Both);
                return Err(io::Error::other("card removed while signing"));
            }
            Some(lock(&shared.card).process(&msg))
        };
        if let Some(a) = answer {
            let mut out = (a.len().min(0xFFFF) as u16).to_be_bytes().to_vec();
            out.extend_from_slice(&a);
            stream.write_all(&out)?;
        }
    }
}
