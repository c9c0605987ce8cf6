minilvb::use_jemalloc!();

fn main() -> std::process::ExitCode {
    minilvb::cli::main()
}

#[cfg(test)]
mod tests {
    use minilvb::allocator::{release_freed_memory, setting};

    #[test]
    fn the_server_runs_on_jemalloc_with_our_settings() {
        let _ = Box::new([0u8; 4096]);
        if std::env::var_os("_RJEM_MALLOC_CONF").is_none() {
            assert_eq!(setting::<u32>(c"opt.narenas"), Some(2));
            assert_eq!(setting::<isize>(c"opt.dirty_decay_ms"), Some(1000));
        }
        assert!(release_freed_memory());
    }
}
