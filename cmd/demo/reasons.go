package main

import (
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// rejectionWarning says in plain words why the session cookie the
// browser sent was refused (httpx.ReasonLabel of Session.Rejected), or ""
// when it was not. The page shows it in a warning box. It says only what
// the library's reason category says: never which bytes were wrong.
func rejectionWarning(rejected error, pol versioning.Policy) string {
	if rejected == nil {
		return ""
	}
	switch httpx.ReasonLabel(rejected) {
	case "idle_expired":
		return "Your session expired after " + inWords(pol.IdleTimeout) + " without activity; if you were signed in, please sign in again."
	case "absolute_expired":
		return "Your session reached its maximum lifetime of " + inWords(pol.AbsoluteTimeout) + " and ended; if you were signed in, please sign in again."
	case "epoch_bumped":
		return "Your session was ended on another device (\"log out everywhere\") or by an administrator; please sign in again."
	case "revoked":
		return "This session was logged out, from another device or by an administrator, and can no longer be used; please sign in again."
	case "auth_failed":
		return "The session cookie was damaged or forged and was ignored: you now have a fresh session."
	case "malformed":
		return "The session cookie was malformed (damaged or edited) and was ignored: you now have a fresh session."
	case "chunks":
		return "The session's cookies did not fit together (a piece was missing, repeated or from another session) and were ignored: you now have a fresh session."
	case "too_large":
		return "The session cookies were larger than this server accepts and were ignored: you now have a fresh session."
	case "unknown_key":
		return "The session cookie was sealed with a key this server no longer uses (the keys were rotated) and was ignored; please sign in again."
	case "issued_in_future":
		return "The session cookie claims a time in the future (a server clock is off) and was ignored; please sign in again."
	case "unsupported_version":
		return "The session cookie is in a format this server does not read and was ignored; please sign in again."
	case "store_unavailable":
		return "Your session could not be checked because the session store is unavailable; please try again in a moment."
	case "legacy_invalid":
		return "Your session cookie from the previous version of this site could not be used and was ignored; please sign in again."
	case "client_changed":
		return "Your session was ended because it came from a different network or browser than the one that signed in; please sign in again."
	case "simultaneous_use":
		return "Your session was ended because it was in use from two distant networks at once; please sign in again."
	default:
		return "Your previous session could not be used and was ignored: you now have a fresh session."
	}
}
