//! Log lines go through ggml's own logger (`ggml_log_get`), so they appear where llama.cpp's
//! tools print theirs and obey the same callbacks. Every line starts with `unicorn: `.
use std::ffi::CString;

use ggml_sys as sys;

pub use sys::ggml_log_level::{
    GGML_LOG_LEVEL_DEBUG as DEBUG, GGML_LOG_LEVEL_ERROR as ERROR, GGML_LOG_LEVEL_INFO as INFO,
    GGML_LOG_LEVEL_WARN as WARN,
};

pub fn log(level: sys::ggml_log_level::Type, msg: &str) {
    let line = format!("unicorn: {msg}\n").replace('\0', " ");
    let Ok(text) = CString::new(line) else { return };
    let mut callback: sys::ggml_log_callback = None;
    let mut user_data = std::ptr::null_mut();
    // SAFETY: ggml_log_get only writes the two out-pointers, which point to live locals.
    unsafe { sys::ggml_log_get(&mut callback, &mut user_data) };
    match callback {
        // SAFETY: the callback and its user data are the pair ggml registered; `text` outlives the call.
        Some(cb) => unsafe { cb(level, text.as_ptr(), user_data) },
        None => eprint!("{}", text.to_string_lossy()),
    }
}

macro_rules! log_debug { ($($t:tt)*) => { $crate::log::log($crate::log::DEBUG, &format!($($t)*)) } }
macro_rules! log_info { ($($t:tt)*) => { $crate::log::log($crate::log::INFO, &format!($($t)*)) } }
macro_rules! log_warn { ($($t:tt)*) => { $crate::log::log($crate::log::WARN, &format!($($t)*)) } }
macro_rules! log_error { ($($t:tt)*) => { $crate::log::log($crate::log::ERROR, &format!($($t)*)) } }
pub(crate) use {log_debug, log_error, log_info, log_warn};
