#include "err.h"

static const char *const names[E__COUNT] = {
	[E_OK] = "ok",
	[E_NOMEM] = "out of memory",
	[E_INVAL] = "invalid input",
	[E_PROTO] = "malformed data",
	[E_AUTH] = "authentication failed",
	[E_NOTFOUND] = "not found",
	[E_TOOBIG] = "too big",
	[E_AGAIN] = "try again",
	[E_STORE] = "store error",
	[E_IO] = "I/O error",
	[E_FULL] = "disk full",
	[E_GAP] = "sequence gap",
	[E_CONFLICT] = "refused",
	[E_TIMEOUT] = "timed out",
	[E_INTEGRITY] = "integrity failure",
	[E_QUOTA] = "quota reached",
};

const char *
err_str(int e)
{
	if (e < 0 || e >= E__COUNT || names[e] == 0)
		return "unknown error";
	return names[e];
}
