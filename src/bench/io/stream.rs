//! One TCP connection of the bench: a read buffer framed with
//! [`sip::frame_stream`](crate::sip::frame_stream) and a write buffer that
//! holds what the socket did not take yet.

use std::io::{Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use super::{is_transient, MAX_MESSAGE};
use crate::sip;

/// A non-blocking TCP connection with its buffers.
#[derive(Debug)]
pub(crate) struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
}

/// Why a connection is over.
#[derive(Debug)]
pub(crate) enum Closed {
    /// The peer closed it.
    Eof,
    /// A socket error.
    Io,
    /// The peer sent something that is not a framed SIP message.
    Framing,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            stream,
            peer,
            rbuf: Vec::with_capacity(16 * 1024),
            wbuf: Vec::new(),
        }
    }

    /// Queues `bytes` and writes what the socket takes.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Closed> {
        self.wbuf.extend_from_slice(bytes);
        self.flush()
    }

    /// Writes queued bytes until the socket would block.
    pub fn flush(&mut self) -> Result<(), Closed> {
        let mut done = 0;
        while done < self.wbuf.len() {
            match self.stream.write(&self.wbuf[done..]) {
                Ok(0) => return Err(Closed::Eof),
                Ok(n) => done += n,
                Err(e) if is_transient(&e) => break,
                Err(_) => return Err(Closed::Io),
            }
        }
        self.wbuf.drain(..done);
        Ok(())
    }

    /// Reads until the socket would block and calls `on_message` for each
    /// whole message, in order.
    pub fn receive(&mut self, mut on_message: impl FnMut(&[u8])) -> Result<(), Closed> {
        loop {
            let len = self.rbuf.len();
            if self.rbuf.capacity() - len < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            self.rbuf.resize(self.rbuf.capacity(), 0);
            let read = self.stream.read(&mut self.rbuf[len..]);
            self.rbuf.truncate(len + *read.as_ref().unwrap_or(&0));
            let blocked = match read {
                Ok(0) => return Err(Closed::Eof),
                Ok(_) => false,
                Err(e) if is_transient(&e) => true,
                Err(_) => return Err(Closed::Io),
            };
            let mut pos = 0;
            loop {
                match sip::frame_stream(&self.rbuf[pos..], MAX_MESSAGE) {
                    Ok(Some(n)) => {
                        let mut msg = &self.rbuf[pos..pos + n];
                        while let Some(rest) = msg.strip_prefix(b"\r\n") {
                            msg = rest;
                        }
                        if !msg.is_empty() {
                            on_message(msg);
                        }
                        pos += n;
                    }
                    Ok(None) => break,
                    Err(_) => return Err(Closed::Framing),
                }
            }
            self.rbuf.drain(..pos);
            if blocked {
                return Ok(());
            }
        }
    }
}
