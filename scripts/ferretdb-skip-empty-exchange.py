"""Patches FerretDB 1.24's saslContinue to end a valid SCRAM conversation
at once (`done: true`), as MongoDB does for `skipEmptyExchange`. See
install-ferretdb.sh. Fails loudly if the source is not what we expect."""
import sys

path = sys.argv[1]
src = open(path).read()
old = """	h.L.DebugContext(connCtx, "saslContinue: step succeed", attrs...)

	return must.NotFail(types.NewDocument(
		"conversationId", int32(1),
		"done", valid, // for compatibility, assign the validity of the conversation before [Step] was called
"""
new = """	h.L.DebugContext(connCtx, "saslContinue: step succeed", attrs...)

	// Patched: end the conversation as soon as it is valid (skipEmptyExchange).
	if conv.Valid() {
		conninfo.Get(connCtx).SetBypassBackendAuth()
	}

	return must.NotFail(types.NewDocument(
		"conversationId", int32(1),
		"done", conv.Valid(),
"""
if src.count(old) != 1:
    sys.exit("ferretdb patch: saslContinue is not as expected; not patching")
open(path, "w").write(src.replace(old, new))
