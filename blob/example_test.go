package blob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"videosupport/blob"
	"videosupport/blob/disk"
)

// A recording sealed on disk, read back by range, then made unreadable by
// destroying its conversation's key.
func ExampleEncrypted() {
	dir, _ := os.MkdirTemp("", "blob-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	objects, _ := disk.Open(filepath.Join(dir, "recordings"), disk.Options{})
	defer objects.Close()
	keys, _ := disk.OpenKeys(filepath.Join(dir, "keys"))
	defer keys.Close()
	master := make([]byte, blob.MasterKeySize) // from configuration in the server
	store, err := blob.NewEncrypted(objects, keys, master)
	if err != nil {
		fmt.Println(err)
		return
	}

	key := blob.ConversationPrefix("c42") + "recordings/r1/call.webm"
	w, _ := store.Create(ctx, key)
	defer w.Close()
	_, _ = io.Copy(w, strings.NewReader("...a WebM file, streamed as it is recorded..."))
	if err := w.Commit(); err != nil {
		fmt.Println(err)
		return
	}

	r, _ := store.Open(ctx, key)
	part := make([]byte, 8)
	_, _ = r.ReadAt(part, 5) // what a Range request reads, via http.ServeContent
	r.Close()
	fmt.Printf("%d bytes; bytes 5-12: %q\n", r.Size(), part)

	_ = store.DestroyKey(ctx, "c42")
	_, err = store.Open(ctx, key)
	fmt.Println(errors.Is(err, blob.ErrKeyDestroyed))
	// Output:
	// 45 bytes; bytes 5-12: "WebM fil"
	// true
}
