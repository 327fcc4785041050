// Package airgap makes and reads Wharf's offline bundles: one file that carries everything an
// installation on a host without network access needs (the component images, the wharf
// binary, vulnerability data), checked end to end before anything on the host changes.
//
// # Format
//
// A bundle is a plain (uncompressed) tar archive, one file, laid out as:
//
//	wharf-bundle.json   the manifest: format version, wharf version, creation time, target
//	                    platform, and every member with its path, kind, name, version, size
//	                    and SHA-256
//	images/NAME.tar     one docker-archive per component image (what `podman load` reads)
//	bin/wharf           the wharf binary
//	files/KIND/NAME     extra files (vulnerability data, ...)
//	SHA256SUMS          trailer: `sha256sum -c` lines for the manifest and every member
//
// The manifest comes first so a reader knows what to expect before the first member arrives
// and can refuse anything that is not a Wharf bundle after reading a few bytes. To write the
// manifest first, Create gathers every member into a work directory (which it needs anyway:
// downloads resume there and pulled layers are cached there), so sizes and digests are known
// before the archive is written. The SHA256SUMS trailer comes last and covers the manifest
// itself, so every byte of every member and of the manifest is checked, and a file cut short
// anywhere lacks its trailer or its end-of-archive blocks. Create also writes FILE.sha256
// beside the bundle: the SHA-256 of the whole file, for `sha256sum -c` on the other side.
//
// The archive is not compressed: image layers are already gzip-compressed, so compression would
// gain little, and a plain tar lets a reader find each member by its offset and read it in
// place (io.SectionReader) without unpacking the bundle or decompressing everything before it.
// Any tar tool can list and unpack a bundle.
//
// # Reading
//
// Open verifies the whole bundle (the manifest, every member's size and SHA-256, no extra,
// duplicate, linked or escaping members, every image archive's layers against its config)
// and only then returns a Bundle whose members can be read; a reader opened on a member
// checks its SHA-256 again at the end, so a file changed after Open is still caught.
package airgap
