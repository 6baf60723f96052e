"""Has Django create what a running project holds: users with Django's own hashers, a DRF
token, a simplejwt refresh token and a blacklisted one. Prints them as JSON."""
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fixture.settings")
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

PASSWORD = "correct horse battery staple"

# The default hasher (PBKDF2), as every Django project has.
alice = User.objects.create_user("alice", "alice@example.com", PASSWORD, first_name="Alice")
bob = User.objects.create_user("bob", "bob@example.com")
bob.password = make_password(PASSWORD, hasher="argon2")
bob.save()
carol = User.objects.create_user("carol", "carol@example.com")
carol.password = make_password(PASSWORD, hasher="bcrypt_sha256")
carol.save()
# No password: unusable, and must stay so.
User.objects.create_user("dave", "dave@example.com")
User.objects.create_user("erin", "erin@example.com", PASSWORD, is_staff=True)
# A hash from a hasher restauth does not know.
mallory = User.objects.create_user("mallory")
mallory.password = "sha512_custom$1$salt$hash"
mallory.save()

token = Token.objects.create(user=alice)
refresh = RefreshToken.for_user(alice)
blacklisted = RefreshToken.for_user(alice)
blacklisted.blacklist()

print(
    json.dumps(
        {
            "token": token.key,
            "refresh": str(refresh),
            "blacklisted": str(blacklisted),
            "hashes": {u.username: u.password for u in User.objects.all()},
        }
    )
)
