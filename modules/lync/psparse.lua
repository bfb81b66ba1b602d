--- lync.psparse — the name the Lync emulator has always required its parser by; the parser
-- now lives with the rest of the PowerShell language in modules/powershell/ (parser.lua,
-- tokenizer.lua), shared with the read proof (modules/powershell/reads.lua).
return require "powershell.parser"
