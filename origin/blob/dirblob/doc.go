// Package dirblob is the embedded blob.Store: blobs are files under a local directory, the default when origin runs
// on one machine.
//
// Layout: DIR/data/<key> holds the blob at key (key segments become directories); DIR/tmp holds writes in progress.
// A Put streams into a temp file, fsyncs it, renames it over DIR/data/<key> and fsyncs the directory, so readers see
// the old blob or the new one, never a partial file, and a blob whose Put returned survives a power loss. Temp
// files left by a crash are removed when a store opens the directory, once they are older than Config.StaleTemp.
//
// Get returns a reader whose WriteTo passes the open file, bounded by the range, to the writer: io.Copy of it to a
// TCP connection (or an http.ResponseWriter) sends the bytes by sendfile(2). A wrapper that hides WriteTo (a plain
// io.LimitReader, http.ServeContent's copy) loses that.
//
// Limits: a key cannot be both a blob and the parent of another (a file cannot be a directory); List reads the
// directory tree under the prefix into memory and sorts it (fine for origin's garbage collection scans, which list
// tens of thousands of keys).
//
// It must not know about HTTP or the catalog; it does not serve presigned URLs (origin serves the bytes itself).
package dirblob
