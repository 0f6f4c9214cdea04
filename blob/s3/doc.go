// Package s3 is the blob backend for more than one machine: objects live
// in a bucket of an S3-compatible object store (AWS S3, MinIO, Ceph,
// versitygw, ...), reached through minio-go, so every node of a cluster
// sees the same recordings.
//
// How the blob.Store contract maps onto S3:
//
//   - A Writer keeps at most one part in memory (Options.PartSize, 8 MiB
//     by default). An object that fits in one part is sent by a single
//     PutObject at Commit; a larger one streams out as a multipart upload
//     while it is written, and Commit completes it. Either way the object
//     appears whole at Commit or not at all; Close without Commit aborts
//     the upload. Uploads a crash left behind are removed by
//     AbortStaleUploads (and, better, by a lifecycle rule on the bucket).
//   - A Reader reads with ranged GETs that carry If-Match with the ETag
//     seen at Open, so it never returns bytes of a newer version: once the
//     key is overwritten or deleted, a read that needs a new request fails
//     with ErrReplaced. Sequential reads share one open response, so
//     playing a recording costs one request, not one per ReadAt; objects
//     of up to 1 MiB are fetched whole at Open.
//   - List pages through ListObjectsV2 and sorts; Delete of a missing key
//     succeeds, as S3's DeleteObject does.
//
// Give the store a bucket of its own: keys are the blob keys as they are
// (conversations/<id>/...), and AbortStaleUploads treats every upload in
// the bucket as its own.
package s3
