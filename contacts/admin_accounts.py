"""Django admin's users and groups, each with the accounts whose contacts it sees (contacts/scoping.py)."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from .models import GroupAccount, UserAccount


class UserAccountInline(admin.TabularInline):
    model = UserAccount
    extra = 1
    verbose_name = "可见的账号"
    verbose_name_plural = "可见的账号(联系记录按账号 ID 分配;超级用户与有“查看全部联系记录”权限的用户看到全部)"


class GroupAccountInline(admin.TabularInline):
    model = GroupAccount
    extra = 1
    verbose_name = "可见的账号"
    verbose_name_plural = "可见的账号(组内每个用户都看到这些账号的联系记录)"


class UserWithAccountsAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserAccountInline]


class GroupWithAccountsAdmin(GroupAdmin):
    inlines = [*GroupAdmin.inlines, GroupAccountInline]


admin.site.unregister(User)
admin.site.register(User, UserWithAccountsAdmin)
admin.site.unregister(Group)
admin.site.register(Group, GroupWithAccountsAdmin)
