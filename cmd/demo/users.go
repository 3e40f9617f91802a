package main

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// demoUser is one of the demo's built-in accounts. The passwords are
// shown on the login page on purpose: this is a demo.
type demoUser struct {
	Name     string
	Password string // shown on the login page
	Admin    bool
}

var demoUsers = []demoUser{
	{Name: "alice", Password: "correct-horse-alice"},
	{Name: "admin", Password: "battery-staple-admin", Admin: true},
}

// userDB holds bcrypt hashes of the demo passwords, computed at start-up.
type userDB struct {
	hashes map[string][]byte
	admins map[string]bool
	dummy  []byte // compared against for unknown users, to even out timing
}

func newUserDB(cost int) (*userDB, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	db := &userDB{hashes: make(map[string][]byte), admins: make(map[string]bool)}
	for _, u := range demoUsers {
		h, err := bcrypt.GenerateFromPassword([]byte(u.Password), cost)
		if err != nil {
			return nil, fmt.Errorf("hash demo password of %s: %w", u.Name, err)
		}
		db.hashes[u.Name] = h
		db.admins[u.Name] = u.Admin
	}
	h, err := bcrypt.GenerateFromPassword([]byte("no such user"), cost)
	if err != nil {
		return nil, err
	}
	db.dummy = h
	return db, nil
}

// check reports whether password is the password of user.
func (db *userDB) check(user, password string) bool {
	h, known := db.hashes[user]
	if !known {
		h = db.dummy
	}
	ok := bcrypt.CompareHashAndPassword(h, []byte(password)) == nil
	return ok && known
}

func (db *userDB) isAdmin(user string) bool { return db.admins[user] }
