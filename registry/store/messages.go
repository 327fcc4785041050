package store

import (
	"context"
	"fmt"
	"time"
)

// Message is a global message a superuser posted, shown atop every page of the web UI.
type Message struct {
	ID   int64
	UUID string
	// Content is Markdown or plain text, as MediaType (text/markdown, text/plain) says.
	Content   string
	MediaType string
	// Severity is info, warning or error.
	Severity  string
	CreatedAt time.Time
}

const messageColumns = "id, uuid, content, severity, media_type, created_at"

func scanMessage(row scanner) (Message, error) {
	var m Message
	var created int64
	err := row.Scan(&m.ID, &m.UUID, &m.Content, &m.Severity, &m.MediaType, &created)
	m.CreatedAt = fromMicros(created)
	return m, err
}

// CreateMessage adds a global message; m.UUID must be set (and new: ErrExists otherwise).
func (s *Store) CreateMessage(ctx context.Context, m Message) (Message, error) {
	m.CreatedAt = fromMicros(s.now())
	err := s.queryRow(ctx, `INSERT INTO global_message (uuid, content, severity, media_type, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, m.UUID, m.Content, m.Severity, m.MediaType, micros(m.CreatedAt)).Scan(&m.ID)
	if isUniqueViolation(err) {
		return Message{}, fmt.Errorf("create message %s: %w", m.UUID, ErrExists)
	}
	if err != nil {
		return Message{}, fmt.Errorf("create message: %w", err)
	}
	return m, nil
}

// Messages lists the global messages, oldest first.
func (s *Store) Messages(ctx context.Context) ([]Message, error) {
	return list(ctx, s, "messages", scanMessage, "SELECT "+messageColumns+" FROM global_message ORDER BY id")
}

// DeleteMessage deletes the global message with uuid; ErrNotFound when there is none.
func (s *Store) DeleteMessage(ctx context.Context, uuid string) error {
	res, err := s.exec(ctx, "DELETE FROM global_message WHERE uuid = ?", uuid)
	if err != nil {
		return fmt.Errorf("delete message %s: %w", uuid, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete message %s: %w", uuid, ErrNotFound)
	}
	return nil
}
