package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/wharf-registry/wharf/registry/store"
)

// robotTokenLength is the length of generated robot tokens (as Quay's).
const robotTokenLength = 64

// sealedPrefix marks a robot token encrypted at rest.
const sealedPrefix = "sealed1:"

// CreateRobot adds robot account fullName (OWNER+NAME) to owner with token, or a random one
// when token is empty. The token is stored encrypted, as Quay does, so that a copy of the
// database does not hand out robot credentials; it returns the robot and its token.
func (s *Service) CreateRobot(ctx context.Context, ownerID int64, fullName, description, token string) (store.User, string, error) {
	if token == "" {
		token = RandomToken(robotTokenLength)
	}
	r, err := s.store.CreateRobot(ctx, ownerID, fullName, description, s.sealRobotToken(fullName, token))
	return r, token, err
}

// RegenerateRobotToken gives a robot a new random token, which takes effect at once, and
// returns it.
func (s *Service) RegenerateRobotToken(ctx context.Context, robot store.User) (string, error) {
	token := RandomToken(robotTokenLength)
	if err := s.store.SetRobotToken(ctx, robot.ID, s.sealRobotToken(robot.Name, token)); err != nil {
		return "", err
	}
	s.Forget()
	return token, nil
}

// RobotToken returns a robot's token in clear, for those who manage the robot.
func (s *Service) RobotToken(ctx context.Context, robot store.User) (string, error) {
	sealed, err := s.store.RobotToken(ctx, robot.ID)
	if err != nil {
		return "", err
	}
	return s.openRobotToken(robot.Name, sealed)
}

// sealRobotToken encrypts a robot's token with the instance's key, bound to the robot's name.
func (s *Service) sealRobotToken(name, token string) string {
	nonce := make([]byte, s.clientKey.NonceSize())
	rand.Read(nonce)
	sealed := s.clientKey.Seal(nonce, nonce, []byte(token), []byte("robot:"+name))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(sealed)
}

func (s *Service) openRobotToken(name, sealed string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	if !strings.HasPrefix(sealed, sealedPrefix) || err != nil || len(raw) < s.clientKey.NonceSize() {
		return "", fmt.Errorf("robot %s: stored token is not sealed by this instance", name)
	}
	nonce, body := raw[:s.clientKey.NonceSize()], raw[s.clientKey.NonceSize():]
	plain, err := s.clientKey.Open(nil, nonce, body, []byte("robot:"+name))
	if err != nil {
		return "", fmt.Errorf("robot %s: stored token does not open with this instance's key: %w", name, err)
	}
	return string(plain), nil
}
