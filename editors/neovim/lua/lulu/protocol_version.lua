-- Generated from server/lsp/src/protocol by `LULU_BLESS=1 cargo test -p lulu-lsp generated_client_files`. Do not edit.

---The protocol version this plugin speaks (`capabilities.experimental.lulu.protocolVersion`).
return 2
